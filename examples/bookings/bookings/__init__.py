"""Room bookings for a small guest house: date ranges, availability and prices."""
