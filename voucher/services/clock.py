"""The programme's calendar: every date it judges is a date in Italy.

Calls for applications open and close, vouchers expire, claims and payouts are dated by
the Italian calendar, whatever the server's time zone. A server on UTC is still on the
previous day between 22:00 (summer) or 23:00 and midnight in Italy: judged by its date, a
call that closed at midnight would still take applications, and one opening that day
would refuse them. Every service and view asks this module for "today".
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

ROME = ZoneInfo("Europe/Rome")


def today() -> date:
    """Today's date in Italy, the calendar every deadline of the programme follows."""
    return datetime.now(ROME).date()
