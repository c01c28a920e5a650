"""time64_to_tm() (kernel/time/timeconv.c), which %pt uses."""

from __future__ import annotations

from ..bits import MASK64 as U64
from ..bits import s32


def time64_to_tm(totalsecs: int) -> list[int]:
    """kernel/time/timeconv.c time64_to_tm(t, 0): [sec, min, hour, mday, mon, year-1900]."""
    days, rem = divmod(totalsecs, 86400)
    hour, rem = divmod(rem, 3600)
    minute, sec = divmod(rem, 60)
    # Neri-Schneider, as the kernel computes it (all unsigned 64/32-bit arithmetic)
    udays = (days + 2305843009213814918) & U64
    u64tmp = (4 * udays + 3) & U64
    century, u64tmp = divmod(u64tmp, 146097)
    day_of_century = (u64tmp // 4) & 0xFFFFFFFF
    u32tmp = (4 * day_of_century + 3) & 0xFFFFFFFF
    u64tmp = 2939745 * u32tmp
    year_of_century = u64tmp >> 32
    day_of_year = (u64tmp & 0xFFFFFFFF) // 2939745 // 4
    year = (100 * century + year_of_century) & U64
    u32tmp = (2141 * day_of_year + 132377) & 0xFFFFFFFF
    month = u32tmp >> 16
    day = (u32tmp & 0xFFFF) // 2141
    is_jan_or_feb = day_of_year >= 306
    year = (year + is_jan_or_feb - 6313183731940000) & U64
    if is_jan_or_feb:
        month -= 12
    day += 1
    tm_year = s32(year - 1900)     # (long) then stored in rtc_time's int
    return [sec, minute, hour, day, month, tm_year]
