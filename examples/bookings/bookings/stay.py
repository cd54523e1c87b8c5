"""A stay is a half-open range of nights: it starts on the arrival date and ends on the morning of departure.

A guest leaving on the 5th and another arriving on the 5th can have the same room: the first guest's last
night is the 4th.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


class InvalidStay(ValueError):
    """Departure on or before arrival."""


@dataclass(frozen=True)
class Stay:
    arrival: date
    departure: date

    def __post_init__(self) -> None:
        if self.departure <= self.arrival:
            raise InvalidStay(f"departure {self.departure} must be after arrival {self.arrival}")

    @property
    def nights(self) -> int:
        return (self.departure - self.arrival).days

    def each_night(self) -> list[date]:
        return [self.arrival + timedelta(days=n) for n in range(self.nights)]


def overlaps(first: Stay, second: Stay) -> bool:
    """Whether two stays need the same room on at least one night."""
    return first.arrival <= second.departure and second.arrival <= first.departure
