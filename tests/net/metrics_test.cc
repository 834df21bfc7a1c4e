#include "net/metrics.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace enarx::net {
namespace {

TEST(Metrics, CounterGaugeHistogramRender) {
  MetricsRegistry r;
  auto& issued = r.counter("steward_issued_total", "Certificates issued", {"platform"});
  issued.inc({"snp"});
  issued.inc({"snp"}, 2);
  issued.inc({"sgx"});
  EXPECT_EQ(issued.value({"snp"}), 3);
  auto& g = r.gauge("queue_depth", "Queue depth");
  g.inc();
  g.inc();
  g.dec();
  EXPECT_EQ(g.value(), 1);
  auto& h = r.histogram("verify_seconds", "Verification time", {"platform"}, {0.01, 0.1});
  h.observe({"snp"}, 0.005);
  h.observe({"snp"}, 0.05);
  h.observe({"snp"}, 5);
  EXPECT_EQ(h.count({"snp"}), 3u);
  const std::string text = r.render();
  EXPECT_NE(text.find("# HELP steward_issued_total Certificates issued\n"
                      "# TYPE steward_issued_total counter\n"
                      "steward_issued_total{platform=\"sgx\"} 1\n"
                      "steward_issued_total{platform=\"snp\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("queue_depth 1\n"), std::string::npos);
  EXPECT_NE(text.find("verify_seconds_bucket{platform=\"snp\",le=\"0.01\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("verify_seconds_bucket{platform=\"snp\",le=\"0.10000000000000001\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("verify_seconds_bucket{platform=\"snp\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("verify_seconds_count{platform=\"snp\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("verify_seconds_sum{platform=\"snp\"} 5.0549999999999997\n"), std::string::npos)
      << text;
  // Families are sorted by name.
  EXPECT_LT(text.find("queue_depth"), text.find("steward_issued_total"));
}

TEST(Metrics, LabelEscapingAndValidation) {
  MetricsRegistry r;
  auto& c = r.counter("c_total", "help", {"reason"});
  c.inc({"a \"b\"\\\nc"});
  EXPECT_NE(r.render().find(R"(c_total{reason="a \"b\"\\\nc"} 1)"), std::string::npos) << r.render();
  EXPECT_EQ(&r.counter("c_total", "again", {"reason"}), &c);
  auto code = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    return std::string("none");
  };
  EXPECT_EQ(code([&] { r.gauge("c_total", "x", {"reason"}); }), "metrics.conflict");
  EXPECT_EQ(code([&] { r.counter("c_total", "x", {"other"}); }), "metrics.conflict");
  EXPECT_EQ(code([&] { r.counter("1bad", "x"); }), "metrics.bad_name");
  EXPECT_EQ(code([&] { r.counter("ok", "x", {"le"}); }), "metrics.bad_name");
  EXPECT_EQ(code([&] { c.inc({}); }), "metrics.bad_labels");
  EXPECT_EQ(code([&] { r.histogram("h", "x", {}, {1, 0.5}); }), "metrics.bad_buckets");
}

// A label fed from client input by mistake costs a bounded amount of memory: past
// kMaxSeriesPerFamily label sets, observations land in one "_overflow" series.
TEST(Metrics, SeriesPerFamilyAreCapped) {
  MetricsRegistry r;
  auto& c = r.counter("c_total", "x", {"who", "what"});
  auto& g = r.gauge("g", "x", {"who"});
  auto& h = r.histogram("h_seconds", "x", {"who"});
  for (std::size_t i = 0; i < 5 * kMaxSeriesPerFamily; ++i) {
    c.inc({"client" + std::to_string(i), "x"});
    g.set({"client" + std::to_string(i)}, 1);
    h.observe({"client" + std::to_string(i)}, 0.1);
  }
  EXPECT_EQ(c.series_count(), kMaxSeriesPerFamily + 1);
  EXPECT_EQ(g.series_count(), kMaxSeriesPerFamily + 1);
  EXPECT_EQ(h.series_count(), kMaxSeriesPerFamily + 1);
  EXPECT_EQ(c.value({"_overflow", "_overflow"}), static_cast<double>(4 * kMaxSeriesPerFamily));
  EXPECT_EQ(c.value({"client0", "x"}), 1);
  EXPECT_EQ(h.count({"_overflow"}), 4 * kMaxSeriesPerFamily);
  // Known series keep counting.
  c.inc({"client1", "x"});
  EXPECT_EQ(c.value({"client1", "x"}), 2);
}

}  // namespace
}  // namespace enarx::net
