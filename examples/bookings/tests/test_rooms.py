from datetime import date
from decimal import Decimal

import pytest

from bookings.rooms import Room, RoomTaken, free_rooms
from bookings.stay import InvalidStay, Stay


def stay(first: int, last: int) -> Stay:
    return Stay(date(2025, 3, first), date(2025, 3, last))


def test_a_stay_counts_its_nights():
    assert stay(3, 6).nights == 3


def test_departure_must_follow_arrival():
    with pytest.raises(InvalidStay):
        stay(6, 6)


def test_overlapping_stays_cannot_share_a_room():
    room = Room(1, Decimal("80"))
    room.book("ana", stay(3, 6))
    with pytest.raises(RoomTaken):
        room.book("ben", stay(5, 8))


def test_back_to_back_stays_share_a_room():
    room = Room(1, Decimal("80"))
    room.book("ana", stay(3, 6))
    room.book("ben", stay(6, 9))  # ana leaves on the morning ben arrives
    assert [guest for guest, _ in room.bookings] == ["ana", "ben"]


def test_free_rooms_lists_rooms_free_for_every_night():
    rooms = [Room(1, Decimal("80")), Room(2, Decimal("95"))]
    rooms[0].book("ana", stay(10, 12))
    assert free_rooms(rooms, stay(12, 14)) == [1, 2]
    assert free_rooms(rooms, stay(11, 13)) == [2]


def test_weekend_nights_cost_more():
    # 2025-03-06 is a Thursday: Thursday, Friday and Saturday nights.
    assert Room(1, Decimal("80")).price(stay(6, 9)) == Decimal("80") + Decimal("100.00") * 2
