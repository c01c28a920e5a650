static bool escape_passthrough(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    if (out < end)
        *out = c;
    *dst = out + 1;
    return true;
}
static bool escape_space(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    unsigned char to;
    switch (c) {
    case '\n':
        to = 'n';
        break;
    case '\r':
        to = 'r';
        break;
    case '\t':
        to = 't';
        break;
    case '\v':
        to = 'v';
        break;
    case '\f':
        to = 'f';
        break;
    default:
        return false;
    }
    if (out < end)
        *out = '\\';
    ++out;
    if (out < end)
        *out = to;
    ++out;
    *dst = out;
    return true;
}
static bool escape_special(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    unsigned char to;
    switch (c) {
    case '\\':
        to = '\\';
        break;
    case '\a':
        to = 'a';
        break;
    case '\e':
        to = 'e';
        break;
    case '"':
        to = '"';
        break;
    default:
        return false;
    }
    if (out < end)
        *out = '\\';
    ++out;
    if (out < end)
        *out = to;
    ++out;
    *dst = out;
    return true;
}
static bool escape_null(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    if (c)
        return false;
    if (out < end)
        *out = '\\';
    ++out;
    if (out < end)
        *out = '0';
    ++out;
    *dst = out;
    return true;
}
static bool escape_octal(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    if (out < end)
        *out = '\\';
    ++out;
    if (out < end)
        *out = ((c >> 6) & 0x07) + '0';
    ++out;
    if (out < end)
        *out = ((c >> 3) & 0x07) + '0';
    ++out;
    if (out < end)
        *out = ((c >> 0) & 0x07) + '0';
    ++out;
    *dst = out;
    return true;
}
static bool escape_hex(unsigned char c, char **dst, char *end)
{
    char *out = *dst;
    if (out < end)
        *out = '\\';
    ++out;
    if (out < end)
        *out = 'x';
    ++out;
    if (out < end)
        *out = hex_asc_hi(c);
    ++out;
    if (out < end)
        *out = hex_asc_lo(c);
    ++out;
    *dst = out;
    return true;
}
int string_escape_mem(const char *src, size_t isz, char *dst, size_t osz,
              unsigned int flags, const char *only)
{
    char *p = dst;
    char *end = p + osz;
    bool is_dict = only && *only;
    bool is_append = flags & ESCAPE_APPEND;
    while (isz--) {
        unsigned char c = *src++;
        bool in_dict = is_dict && strchr(only, c);
        if (!(is_append || in_dict) && is_dict &&
                      escape_passthrough(c, &p, end))
            continue;
        if (!(is_append && in_dict) && isascii(c) && isprint(c) &&
            flags & ESCAPE_NAP && escape_passthrough(c, &p, end))
            continue;
        if (!(is_append && in_dict) && isprint(c) &&
            flags & ESCAPE_NP && escape_passthrough(c, &p, end))
            continue;
        if (!(is_append && in_dict) && isascii(c) &&
            flags & ESCAPE_NA && escape_passthrough(c, &p, end))
            continue;
        if (flags & ESCAPE_SPACE && escape_space(c, &p, end))
            continue;
        if (flags & ESCAPE_SPECIAL && escape_special(c, &p, end))
            continue;
        if (flags & ESCAPE_NULL && escape_null(c, &p, end))
            continue;
        if (flags & ESCAPE_OCTAL && escape_octal(c, &p, end))
            continue;
        if (flags & ESCAPE_HEX && escape_hex(c, &p, end))
            continue;
        escape_passthrough(c, &p, end);
    }
    return p - dst;
}

void time64_to_tm(time64_t totalsecs, int offset, struct tm *result)
{
    u32 u32tmp, day_of_century, year_of_century, day_of_year, month, day;
    u64 u64tmp, udays, century, year;
    bool is_Jan_or_Feb, is_leap_year;
    long days, rem;
    int remainder;
    days = div_s64_rem(totalsecs, SECS_PER_DAY, &remainder);
    rem = remainder;
    rem += offset;
    while (rem < 0) {
        rem += SECS_PER_DAY;
        --days;
    }
    while (rem >= SECS_PER_DAY) {
        rem -= SECS_PER_DAY;
        ++days;
    }
    result->tm_hour = rem / SECS_PER_HOUR;
    rem %= SECS_PER_HOUR;
    result->tm_min = rem / 60;
    result->tm_sec = rem % 60;
    result->tm_wday = (4 + days) % 7;
    if (result->tm_wday < 0)
        result->tm_wday += 7;
    udays   = ((u64) days) + 2305843009213814918ULL;
    u64tmp      = 4 * udays + 3;
    century     = div64_u64_rem(u64tmp, 146097, &u64tmp);
    day_of_century  = (u32) (u64tmp / 4);
    u32tmp      = 4 * day_of_century + 3;
    u64tmp      = 2939745ULL * u32tmp;
    year_of_century = upper_32_bits(u64tmp);
    day_of_year = lower_32_bits(u64tmp) / 2939745 / 4;
    year        = 100 * century + year_of_century;
    is_leap_year    = year_of_century ? !(year_of_century % 4) : !(century % 4);
    u32tmp      = 2141 * day_of_year + 132377;
    month       = u32tmp >> 16;
    day     = ((u16) u32tmp) / 2141;
    is_Jan_or_Feb   = day_of_year >= 306;
    year        = year + is_Jan_or_Feb - 6313183731940000ULL;
    month       = is_Jan_or_Feb ? month - 12 : month;
    day     = day + 1;
    day_of_year += is_Jan_or_Feb ? -306 : 31 + 28 + is_leap_year;
    result->tm_year = (long) (year - 1900);
    result->tm_mon  = (int) month;
    result->tm_mday = (int) day;
    result->tm_yday = (int) day_of_year;
}
