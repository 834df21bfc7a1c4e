#include "net/metrics.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace enarx::net {
namespace {

bool valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                       (allow_colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Label value escaping per the text format: backslash, double quote and newline.
std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string label_set(const std::vector<std::string>& names, const LabelValues& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ",";
    out += names[i] + "=\"" + escape_label(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ",";
    out += std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  }
  return out + "}";
}

void header(std::string& out, const MetricFamily& f) {
  out += "# HELP " + f.name() + " " + escape_help(f.help()) + "\n";
  out += "# TYPE " + f.name() + " " + std::string(f.type()) + "\n";
}

}  // namespace

MetricFamily::MetricFamily(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  if (!valid_name(name_, true)) throw Error(ErrorKind::kInternal, "metrics.bad_name", "invalid metric name '" + name_ + "'");
  for (const auto& l : label_names_) {
    if (!valid_name(l, false) || l.starts_with("__") || l == "le") {
      throw Error(ErrorKind::kInternal, "metrics.bad_name", "invalid label name '" + l + "' for metric " + name_);
    }
  }
}

void MetricFamily::check_labels(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {
    throw Error(ErrorKind::kInternal, "metrics.bad_labels", "metric " + name_ + " takes " +
                                          std::to_string(label_names_.size()) + " label values, got " +
                                          std::to_string(values.size()));
  }
}

Counter::Counter(std::string name, std::string help, std::vector<std::string> label_names)
    : MetricFamily(std::move(name), std::move(help), std::move(label_names)) {}

void Counter::inc(const LabelValues& labels, double amount) {
  check_labels(labels);
  if (!(amount >= 0)) return;
  std::lock_guard lock(mutex_);
  series(values_, labels) += amount;
}

std::size_t Counter::series_count() const {
  std::lock_guard lock(mutex_);
  return values_.size();
}

double Counter::value(const LabelValues& labels) const {
  std::lock_guard lock(mutex_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0.0 : it->second;
}

void Counter::render(std::string& out) const {
  header(out, *this);
  std::lock_guard lock(mutex_);
  for (const auto& [labels, v] : values_) {
    out += name_ + label_set(label_names_, labels) + " " + format_number(v) + "\n";
  }
}

Gauge::Gauge(std::string name, std::string help, std::vector<std::string> label_names)
    : MetricFamily(std::move(name), std::move(help), std::move(label_names)) {}

void Gauge::set(const LabelValues& labels, double value) {
  check_labels(labels);
  std::lock_guard lock(mutex_);
  series(values_, labels) = value;
}

std::size_t Gauge::series_count() const {
  std::lock_guard lock(mutex_);
  return values_.size();
}

void Gauge::inc(const LabelValues& labels, double amount) {
  check_labels(labels);
  std::lock_guard lock(mutex_);
  series(values_, labels) += amount;
}

void Gauge::dec(const LabelValues& labels, double amount) { inc(labels, -amount); }

double Gauge::value(const LabelValues& labels) const {
  std::lock_guard lock(mutex_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0.0 : it->second;
}

void Gauge::render(std::string& out) const {
  header(out, *this);
  std::lock_guard lock(mutex_);
  if (values_.empty() && label_names_.empty()) {
    out += name_ + " 0\n";
    return;
  }
  for (const auto& [labels, v] : values_) {
    out += name_ + label_set(label_names_, labels) + " " + format_number(v) + "\n";
  }
}

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : MetricFamily(std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)) {
  for (std::size_t i = 1; i < bounds_.size(); ++i) {
    if (!(bounds_[i] > bounds_[i - 1])) {
      throw Error(ErrorKind::kInternal, "metrics.bad_buckets", "histogram " + name_ + " bounds must be ascending");
    }
  }
}

void Histogram::observe(const LabelValues& labels, double value) {
  check_labels(labels);
  std::lock_guard lock(mutex_);
  auto& s = series(series_, labels);
  if (s.buckets.empty()) s.buckets.assign(bounds_.size() + 1, 0);
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++s.buckets[i];
  s.sum += value;
  ++s.count;
}

std::uint64_t Histogram::count(const LabelValues& labels) const {
  std::lock_guard lock(mutex_);
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second.count;
}

std::size_t Histogram::series_count() const {
  std::lock_guard lock(mutex_);
  return series_.size();
}

double Histogram::sum(const LabelValues& labels) const {
  std::lock_guard lock(mutex_);
  auto it = series_.find(labels);
  return it == series_.end() ? 0.0 : it->second.sum;
}

void Histogram::render(std::string& out) const {
  header(out, *this);
  std::lock_guard lock(mutex_);
  for (const auto& [labels, s] : series_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += s.buckets[i];
      const std::string le = i < bounds_.size() ? format_number(bounds_[i]) : "+Inf";
      out += name_ + "_bucket" + label_set(label_names_, labels, "le", le) + " " +
             std::to_string(cumulative) + "\n";
    }
    out += name_ + "_sum" + label_set(label_names_, labels) + " " + format_number(s.sum) + "\n";
    out += name_ + "_count" + label_set(label_names_, labels) + " " + std::to_string(s.count) + "\n";
  }
}

std::vector<double> default_latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

template <typename T, typename... Args>
T& MetricsRegistry::get_or_create(const std::string& name, std::vector<std::string> label_names,
                                  Args&&... args) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    auto* existing = dynamic_cast<T*>(it->second.get());
    if (!existing || existing->label_names() != label_names) {
      throw Error(ErrorKind::kInternal, "metrics.conflict",
                  "metric " + name + " already registered with another type or labels");
    }
    return *existing;
  }
  auto family = std::make_unique<T>(name, std::forward<Args>(args)..., std::move(label_names));
  T& ref = *family;
  families_.emplace(name, std::move(family));
  return ref;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  return get_or_create<Counter>(name, std::move(label_names), help);
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names) {
  return get_or_create<Gauge>(name, std::move(label_names), help);
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    auto* existing = dynamic_cast<Histogram*>(it->second.get());
    if (!existing || existing->label_names() != label_names) {
      throw Error(ErrorKind::kInternal, "metrics.conflict",
                  "metric " + name + " already registered with another type or labels");
    }
    return *existing;
  }
  auto family = std::make_unique<Histogram>(name, help, std::move(label_names), std::move(bounds));
  Histogram& ref = *family;
  families_.emplace(name, std::move(family));
  return ref;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) family->render(out);
  return out;
}

}  // namespace enarx::net
