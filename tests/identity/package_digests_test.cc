// The application and configuration digests (docs/oids.md "Application and configuration
// digests") and their URNs in the workload identity.
#include "identity/package_digests.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/crypto.h"
#include "identity/workload.h"
#include "support/error_code.h"

namespace enarx::identity {
namespace {

using support::error_code;

PackageFile file(std::string path, std::string_view content) { return {std::move(path), sha256(as_bytes(content))}; }

const std::string kWasm("\0asm\1\0\0\0", 8);

// The worked example of docs/oids.md; the expected values come from coreutils:
//   sha256sum main.wasm
//   find . -type f ! -path ./main.wasm -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum
std::vector<PackageFile> example() {
  return {file("main.wasm", kWasm), file("Enarx.toml", "args = [\"8\"]\n"), file("static/motd.txt", "hello\n")};
}

TEST(PackageDigests, WorkedExampleMatchesCoreutils) {
  EXPECT_EQ(configuration_listing(example()),
            "818c5e80fb7ecb81b5c06921874b39955305aa5e50ac3b542f358296043de748  Enarx.toml\n"
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  static/motd.txt\n");
  const auto d = package_digests(example());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->application, "sha-256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476");
  EXPECT_EQ(d->configuration, "sha-256:072259d025442332fdff514b4d26eeb2e4367c7db6fab9fbc30bec872e48ab66");
}

TEST(PackageDigests, IndependentOfListingOrder) {
  auto files = example();
  const auto expected = package_digests(files);
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  do {
    EXPECT_EQ(package_digests(files), expected);
  } while (std::next_permutation(files.begin(), files.end(),
                                 [](const auto& a, const auto& b) { return a.path < b.path; }));
}

TEST(PackageDigests, AConfigurationChangeChangesOnlyTheConfigurationDigest) {
  const auto before = package_digests(example());
  auto files = example();
  files[1] = file("Enarx.toml", "args = [\"9\"]\n");
  const auto after = package_digests(files);
  ASSERT_TRUE(before && after);
  EXPECT_EQ(after->application, before->application);
  EXPECT_NE(after->configuration, before->configuration);
  EXPECT_EQ(after->configuration, "sha-256:263cd853f62457f21bd0392225b53fab5b7919a46186dd1e2e5d0bd3fa2c164e");

  // An asset is configuration too, and so is its name.
  files = example();
  files[2].path = "static/motd2.txt";
  EXPECT_NE(package_digests(files)->configuration, before->configuration);
  files = example();
  files.push_back(file("extra.wasm", kWasm));  // a module the runtime does not execute is data
  EXPECT_NE(package_digests(files)->configuration, before->configuration);
  EXPECT_EQ(package_digests(files)->application, before->application);
}

TEST(PackageDigests, AnApplicationChangeChangesOnlyTheApplicationDigest) {
  const auto before = package_digests(example());
  auto files = example();
  files[0] = file("main.wasm", kWasm + std::string("\0", 1));
  const auto after = package_digests(files);
  ASSERT_TRUE(before && after);
  EXPECT_NE(after->application, before->application);
  EXPECT_EQ(after->configuration, before->configuration);
}

TEST(PackageDigests, SingleFilePackageAndMissingApplication) {
  // The root file is the application; there is no configuration (the listing is empty).
  const auto single = package_digests({file("", kWasm)});
  ASSERT_TRUE(single);
  EXPECT_EQ(single->application, package_digests(example())->application);
  EXPECT_EQ(single->configuration, "sha-256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Only the root's main.wasm is the application.
  EXPECT_FALSE(package_digests({file("Enarx.toml", "")}));
  EXPECT_FALSE(package_digests({file("sub/main.wasm", kWasm)}));
}

TEST(PackageDigests, MalformedListingsAreRefused) {
  const auto refused = [](std::vector<PackageFile> files) {
    return error_code([&] { package_digests(files); });
  };
  EXPECT_EQ(refused({file("main.wasm", kWasm), file("main.wasm", kWasm)}), "identity.package.malformed");
  EXPECT_EQ(refused({file("", kWasm), file("Enarx.toml", "")}), "identity.package.malformed");
  EXPECT_EQ(refused({file("main.wasm", kWasm), file("a", ""), file("a.txt", ""), file("a/b", "")}),
            "identity.package.malformed");  // "a" is a file and a directory
  EXPECT_EQ(refused({file("main.wasm", kWasm), file("/Enarx.toml", "")}), "identity.package.malformed");
  EXPECT_EQ(refused({file("main.wasm", kWasm), file("a//b", "")}), "identity.package.malformed");
  EXPECT_EQ(refused({file("main.wasm", kWasm), file("a/../b", "")}), "identity.package.malformed");
  EXPECT_EQ(refused({file("main.wasm", kWasm), file("a b", "")}), "identity.package.malformed");
  EXPECT_EQ(refused({file("main.wasm", kWasm), file("a\nb", "")}), "identity.package.malformed");
  EXPECT_EQ(refused({{"main.wasm", Bytes(31, 0)}}), "identity.package.malformed");
}

TEST(PackageDigestUrns, RoundTrip) {
  const auto d = *package_digests(example());
  WorkloadIdentity id;
  id.digest = "sha-256:" + std::string(64, 'a');
  id.app_digest = d.application;
  id.config_digest = d.configuration;
  const auto uris = id.to_uris();
  EXPECT_NE(std::find(uris.begin(), uris.end(),
                      "urn:enarx:app-digest:sha-256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"),
            uris.end());
  EXPECT_NE(std::find(uris.begin(), uris.end(),
                      "urn:enarx:config-digest:sha-256:072259d025442332fdff514b4d26eeb2e4367c7db6fab9fbc30bec872e48ab66"),
            uris.end());
  const auto back = WorkloadIdentity::from_uris(uris);
  EXPECT_EQ(back.app_digest, id.app_digest);
  EXPECT_EQ(back.config_digest, id.config_digest);
  EXPECT_EQ(back.digest, id.digest);
  for (const auto& uri : uris) EXPECT_NE(classify_workload_uri(uri), WorkloadUri::Other) << uri;
  EXPECT_EQ(classify_workload_uri(format_app_digest_urn(std::string(64, 'b'))), WorkloadUri::AppDigest);
  EXPECT_EQ(classify_workload_uri(format_config_digest_urn(std::string(64, 'b'))), WorkloadUri::ConfigDigest);
}

TEST(PackageDigestUrns, MalformedOrAmbiguousAreRefused) {
  const std::string hex(64, 'c');
  for (const std::string& bad : {
           "urn:enarx:app-digest:sha-256:" + std::string(63, 'c'),           // short
           "urn:enarx:app-digest:sha-256:" + std::string(64, 'C'),           // upper case
           "urn:enarx:app-digest:sha-384:" + std::string(96, 'c'),           // only sha-256 is defined
           "urn:enarx:app-digest:" + hex,                                    // no algorithm
           "urn:enarx:config-digest:sha-256:" + hex + "00",                  // long
           "urn:enarx:config-digest:sha-256:" + std::string(64, 'g'),        // not hex
           std::string("urn:enarx:config-digest:"),
       }) {
    EXPECT_EQ(error_code([&] { classify_workload_uri(bad); }), "identity.malformed") << bad;
    EXPECT_EQ(error_code([&] { WorkloadIdentity::from_uris({bad}); }), "identity.malformed") << bad;
  }
  EXPECT_EQ(error_code([&] {
              WorkloadIdentity::from_uris({format_app_digest_urn(hex), format_app_digest_urn(std::string(64, 'd'))});
            }),
            "identity.ambiguous");
  EXPECT_EQ(error_code([&] {
              WorkloadIdentity::from_uris(
                  {format_config_digest_urn(hex), format_config_digest_urn(std::string(64, 'd'))});
            }),
            "identity.ambiguous");
  // The same name twice is not ambiguous.
  EXPECT_EQ(WorkloadIdentity::from_uris({format_app_digest_urn(hex), format_app_digest_urn(hex)}).app_digest,
            "sha-256:" + hex);

  // A CSR cannot be built around a malformed value either.
  WorkloadIdentity id;
  id.app_digest = hex;  // no "sha-256:"
  EXPECT_EQ(error_code([&] { id.to_uris(); }), "identity.malformed");
  id.app_digest.reset();
  id.config_digest = "sha-384:" + hex;
  EXPECT_EQ(error_code([&] { id.to_uris(); }), "identity.malformed");
}

}  // namespace
}  // namespace enarx::identity
