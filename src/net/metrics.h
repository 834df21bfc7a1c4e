// In-process metrics with labels, rendered in the Prometheus text exposition format (0.0.4).
//
//   auto& issued = registry.counter("steward_certificates_issued_total",
//                                   "Certificates issued", {"platform"});
//   issued.inc({"snp"});
//   auto& latency = registry.histogram("steward_verify_seconds", "Evidence verification time",
//                                      {"platform"});
//   latency.observe({"snp"}, 0.004);
//
// Families are created once (by name) and live as long as the registry; the references returned
// stay valid. Asking again for an existing name with the same type and label names returns the
// same family; a different type or label set throws Error("metrics.conflict"). Metric and label
// names must match [a-zA-Z_:][a-zA-Z0-9_:]* / [a-zA-Z_][a-zA-Z0-9_]* (Error("metrics.bad_name")).
// Label values are given positionally in the order of the family's label names; a wrong count
// throws Error("metrics.bad_labels"). All operations are thread-safe.
//
// Keep label cardinality bounded: route *patterns*, not raw paths; reasons from a fixed set.
// As a seatbelt, a family keeps at most kMaxSeriesPerFamily label sets; observations for further
// ones go to one series whose every label value is "_overflow" (a label fed from client input by
// mistake then costs a bounded amount of memory and shows up as that series).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace enarx::net {

using LabelValues = std::vector<std::string>;

inline constexpr std::size_t kMaxSeriesPerFamily = 1000;
inline constexpr std::string_view kOverflowLabel = "_overflow";

class MetricFamily {
 public:
  virtual ~MetricFamily() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  virtual std::string_view type() const = 0;
  // Appends this family's "# HELP", "# TYPE" and sample lines.
  virtual void render(std::string& out) const = 0;

 protected:
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names);
  void check_labels(const LabelValues& values) const;
  // The key to record `values` under: themselves, or the overflow set once the family is full.
  template <typename Map>
  typename Map::mapped_type& series(Map& map, const LabelValues& values) {
    auto it = map.find(values);
    if (it != map.end()) return it->second;
    if (map.size() >= kMaxSeriesPerFamily) {
      return map[LabelValues(values.size(), std::string(kOverflowLabel))];
    }
    return map[values];
  }
  std::string name_, help_;
  std::vector<std::string> label_names_;
  mutable std::mutex mutex_;
};

// Monotonically increasing value per label set.
class Counter final : public MetricFamily {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names);
  void inc(const LabelValues& labels = {}, double amount = 1.0);  // amount < 0 is ignored
  double value(const LabelValues& labels = {}) const;             // 0 if never incremented
  std::size_t series_count() const;
  std::string_view type() const override { return "counter"; }
  void render(std::string& out) const override;

 private:
  std::map<LabelValues, double> values_;
};

// A value that goes up and down per label set.
class Gauge final : public MetricFamily {
 public:
  Gauge(std::string name, std::string help, std::vector<std::string> label_names);
  void set(const LabelValues& labels, double value);
  void inc(const LabelValues& labels = {}, double amount = 1.0);
  void dec(const LabelValues& labels = {}, double amount = 1.0);
  double value(const LabelValues& labels = {}) const;
  std::size_t series_count() const;
  std::string_view type() const override { return "gauge"; }
  void render(std::string& out) const override;

 private:
  std::map<LabelValues, double> values_;
};

// Cumulative buckets (upper bounds, ascending; +Inf is implicit), plus _sum and _count.
class Histogram final : public MetricFamily {
 public:
  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> bounds);
  void observe(const LabelValues& labels, double value);
  std::uint64_t count(const LabelValues& labels = {}) const;
  double sum(const LabelValues& labels = {}) const;
  std::size_t series_count() const;
  std::string_view type() const override { return "histogram"; }
  void render(std::string& out) const override;

 private:
  struct Series {
    std::vector<std::uint64_t> buckets;  // non-cumulative per bound, +Inf last
    double sum = 0;
    std::uint64_t count = 0;
  };
  std::vector<double> bounds_;
  std::map<LabelValues, Series> series_;
};

// Latency buckets in seconds: 0.5 ms .. 10 s.
std::vector<double> default_latency_buckets();

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Counter& counter(const std::string& name, const std::string& help,
                   std::vector<std::string> label_names = {});
  Gauge& gauge(const std::string& name, const std::string& help,
               std::vector<std::string> label_names = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {},
                       std::vector<double> bounds = default_latency_buckets());

  // Every family, sorted by name, in the Prometheus text format. Content type:
  // "text/plain; version=0.0.4; charset=utf-8".
  std::string render() const;

 private:
  template <typename T, typename... Args>
  T& get_or_create(const std::string& name, std::vector<std::string> label_names, Args&&... args);
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<MetricFamily>> families_;
};

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace enarx::net
