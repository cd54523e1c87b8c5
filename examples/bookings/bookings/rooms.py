"""Rooms, their bookings, and what a stay costs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .stay import Stay, overlaps

WEEKEND = (4, 5)  # Friday and Saturday nights
WEEKEND_SURCHARGE = Decimal("1.25")


class RoomTaken(Exception):
    """The room is already booked for one of the nights asked for."""


@dataclass
class Room:
    number: int
    nightly_rate: Decimal
    bookings: list[tuple[str, Stay]] = field(default_factory=list)

    def is_free(self, stay: Stay) -> bool:
        return not any(overlaps(stay, booked) for _, booked in self.bookings)

    def book(self, guest: str, stay: Stay) -> None:
        if not self.is_free(stay):
            raise RoomTaken(f"room {self.number} is taken for part of {stay.arrival}..{stay.departure}")
        self.bookings.append((guest, stay))

    def price(self, stay: Stay) -> Decimal:
        return sum((night_rate(self.nightly_rate, night) for night in stay.each_night()), Decimal("0"))


def night_rate(rate: Decimal, night: date) -> Decimal:
    """Friday and Saturday nights cost a quarter more."""
    if night.weekday() in WEEKEND:
        return (rate * WEEKEND_SURCHARGE).quantize(Decimal("0.01"))
    return rate


def free_rooms(rooms: list[Room], stay: Stay) -> list[int]:
    return [room.number for room in rooms if room.is_free(stay)]
