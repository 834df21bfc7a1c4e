#include "revocation/asn1_time.h"

#include <ctime>

#include "core/error.h"

namespace enarx::revocation::detail {

namespace {
constexpr std::time_t kEndOfTime = 253402300799;  // 9999-12-31T23:59:59Z
}

ossl::Asn1TimePtr to_asn1_time(TimePoint t) {
  using std::chrono::seconds;
  const std::time_t secs =
      t == TimePoint::max() ? kEndOfTime
                            : static_cast<std::time_t>(std::chrono::floor<seconds>(t.time_since_epoch()).count());
  ossl::Asn1TimePtr out(ASN1_TIME_set(nullptr, secs));
  if (!out) ossl::throw_error(ErrorKind::kInvalidInput, "revocation.time", "time out of the ASN.1 range");
  return out;
}

TimePoint from_asn1_time(const ASN1_TIME* t, std::string_view code) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) ossl::throw_error(ErrorKind::kInvalidInput, code, "invalid time");
  const std::time_t secs = timegm(&tm);
  using std::chrono::seconds;
  constexpr auto max_s = std::chrono::duration_cast<seconds>(TimePoint::max().time_since_epoch()).count();
  constexpr auto min_s = std::chrono::duration_cast<seconds>(TimePoint::min().time_since_epoch()).count();
  if (secs >= max_s) return TimePoint::max();
  if (secs <= min_s) return TimePoint::min();
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(seconds(secs)));
}

}  // namespace enarx::revocation::detail
