// Calendar arithmetic and RFC 3339 times in UTC, free of the process's time zone (timegm is not
// standard, mktime reads TZ). Howard Hinnant's civil calendar algorithms: exact for every
// proleptic Gregorian date.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sy::civil {

// Days since 1970-01-01 of year y, month m (1-12), day d (1-31), and back.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);
void civil_from_days(std::int64_t days, std::int64_t& y, unsigned& m, unsigned& d);
unsigned days_in_month(std::int64_t y, unsigned m);

// "2027-01-15T08:00:00Z", "2027-01-15T09:00:00.250+01:00" (a fraction and any offset; 't' and
// ' ' for 'T', 'z' for 'Z'; a leap second reads as the second before) -> unix milliseconds (the
// fraction cut to milliseconds). nullopt for anything else.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

// Unix seconds -> "2027-01-15T08:00:00Z"; unix milliseconds -> "2027-01-15T08:00:00.000Z".
std::string format_rfc3339(std::int64_t unix_seconds);
std::string format_rfc3339_ms(std::int64_t unix_ms);

// Days since 1970-01-01 -> "2027-01-15".
std::string format_day(std::int64_t days);

}  // namespace sy::civil
