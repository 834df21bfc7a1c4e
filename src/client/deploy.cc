#include "client/deploy.h"

#include "client/package_digests.h"
#include "client/trust.h"

#include <filesystem>

#include "core/file.h"
#include "identity/slug.h"
#include "runtime/assets.h"
#include "runtime/config.h"

namespace enarx::client {
namespace {

template <typename F>
auto in_step(DeployStep step, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const DeployError&) {
    throw;
  } catch (const Error& e) {
    throw DeployError(step, e);
  } catch (const std::exception& e) {
    throw DeployError(step, Error(ErrorKind::kInternal, "deploy.internal", e.what()));
  }
}

// --signer: a hex fingerprint, or a PEM file holding a public or private key.
std::string signer_fingerprint(const std::string& signer) {
  if (signer.size() == 64 && signer.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
    std::string lower = signer;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower;
  }
  std::string pem = read_text_file(signer);
  if (pem.find("PRIVATE KEY") != std::string::npos)
    return jws::key_fingerprint(PrivateKey::from_pem(pem).public_key());
  return jws::key_fingerprint(PublicKey::from_pem(pem));
}

// The host is not trusted, so neither is its certificate store: the embedded roots unless the
// user names others (client/trust.h).
net::ClientOptions tls_options(const std::string& ca_pem, const DeployOptions& o) {
  return with_trust({.replace_pem = ca_pem, .extra_pem = o.extra_ca_pem, .system_roots = o.system_roots});
}

runtime::AssetTree assets_from(const std::map<std::string, Bytes>& files) {
  runtime::AssetTree tree;
  for (const auto& [path, content] : files)
    if (!path.empty()) tree.add_file(path, content);
  return tree;
}

}  // namespace

std::string_view to_string(DeployStep step) {
  switch (step) {
    case DeployStep::Slug: return "slug";
    case DeployStep::Metadata: return "metadata";
    case DeployStep::DigestPin: return "digest-pin";
    case DeployStep::Signature: return "signature";
    case DeployStep::Platform: return "platform";
    case DeployStep::Attestation: return "attest";
    case DeployStep::Fetch: return "fetch";
    case DeployStep::Run: return "run";
  }
  return "unknown";
}

namespace {

constexpr std::string_view kFileScheme = "file://";

// The steward named in the package's Enarx.toml, if any.
std::optional<std::string> steward_from_config(const Bytes* enarx_toml) {
  if (!enarx_toml) return std::nullopt;
  return runtime::parse_config(as_string(*enarx_toml)).steward;
}


// A local package directory read into memory the way publish would upload it, so the workload
// digest is the one the same directory gets when published.
Package read_local_package(const std::filesystem::path& dir) {
  require(std::filesystem::is_regular_file(dir / "main.wasm"), ErrorKind::kInvalidInput, "client.package.no_main_wasm",
          dir.string() + " has no main.wasm");
  drawbridge::Tree tree = drawbridge::build_tree_from_path(dir);
  Package pkg;
  pkg.metadata.root = tree.root();
  pkg.metadata.root_digest = root_digest(pkg.metadata.root);
  for (auto& node : tree.nodes)
    if (node.meta.type != drawbridge::kDirectoryType) pkg.files.emplace(node.path, std::move(node.content));
  return pkg;
}

}  // namespace

StewardChoice choose_steward(const std::string& flag, const std::optional<identity::Slug>& slug,
                             const TagMetadata& metadata, const Package* local_pkg, RegistryClient* registry,
                             const std::function<void(const std::string&)>& note) {
  if (!flag.empty()) return {flag, "--steward"};
  if (registry) {
    if (metadata.signature) {
      if (auto url = drawbridge::tag_steward(metadata.root)) return {*url, "the signed tag"};
    } else if (metadata.root.custom.count(std::string(drawbridge::kTagStewardMember))) {
      note("the tag names a steward but is unsigned: ignored (only a signed tag's steward is the publisher's word)");
    }
    try {
      auto answer = registry->discover_steward(slug->user, slug->repo, std::nullopt);
      if (answer.url && answer.source == "repository") return {*answer.url, "the repository"};
      if (answer.url && answer.source == "registry") return {*answer.url, "the registry's default"};
    } catch (const Error& e) {
      // A registry without the _steward route (older, or another implementation) names none;
      // any other failure is not guessed past.
      if (e.code() != "registry.not_found") throw;
      note("the registry names no steward (no _steward route)");
    }
  }
  // Enarx.toml may name the steward; a remote one is read anonymously (public packages only).
  try {
    if (local_pkg) {
      auto it = local_pkg->files.find("Enarx.toml");
      if (auto named = steward_from_config(it == local_pkg->files.end() ? nullptr : &it->second))
        return {*named, "Enarx.toml"};
    } else if (registry && metadata.root.meta.type == drawbridge::kDirectoryType) {
      Bytes dir_json = registry->get_node(slug->user, slug->repo, *slug->tag, "", metadata.root.meta);
      auto dir = drawbridge::parse_directory(as_string(dir_json));
      if (auto it = dir.find("Enarx.toml"); it != dir.end()) {
        Bytes toml = registry->get_node(slug->user, slug->repo, *slug->tag, "Enarx.toml", it->second.meta);
        if (auto named = steward_from_config(&toml)) return {*named, "Enarx.toml"};
      }
    }
  } catch (const Error&) {
    // Private package, no or bad Enarx.toml: no steward from the package (a bad Enarx.toml is
    // reported by the run step).
  }
  return {};
}

DeployOutcome deploy(const DeployOptions& o) {
  auto say = [&](DeployStep step, const std::string& msg) {
    if (o.on_step) o.on_step(step, msg);
  };
  DeployOutcome out;
  const bool local = o.package.rfind(kFileScheme, 0) == 0;

  // --- slug, metadata, digest pin, signature: where the package comes from and what it is
  std::optional<identity::Slug> slug;
  std::optional<Package> local_pkg;
  FetchOptions fetch;
  fetch.on_bytes = o.on_bytes;
  std::optional<RegistryClient> anonymous;
  if (local) {
    const std::filesystem::path dir = o.package.substr(kFileScheme.size());
    in_step(DeployStep::Slug, [&] {
      require(!dir.empty() && std::filesystem::is_directory(dir), ErrorKind::kNotFound, "deploy.local_not_found",
              "file:// names no directory: " + dir.string());
    });
    say(DeployStep::Slug, "local package " + dir.string());
    local_pkg = in_step(DeployStep::Metadata, [&] { return read_local_package(dir); });
    out.metadata = local_pkg->metadata;
    say(DeployStep::Metadata, dir.string() + " -> " + out.metadata.root_digest);
    // A directory carries no tag signature: a required signer cannot be satisfied.
    if (!o.signer.empty())
      throw DeployError(DeployStep::Signature,
                        Error(ErrorKind::kUntrusted, "deploy.unsigned", "a local package is never signed, but a signer is required"));
    say(DeployStep::Signature, "local package (unsigned)");
  } else {
    slug = in_step(DeployStep::Slug, [&] { return identity::parse_slug(o.package, true); });
    say(DeployStep::Slug, identity::format_slug(*slug));
    if (slug->digest_alg) fetch.expected_digest = *slug->digest_alg + ":" + *slug->digest_hex;
    if (!o.signer.empty())
      fetch.expected_signer_fingerprint = in_step(DeployStep::Signature, [&] { return signer_fingerprint(o.signer); });
    anonymous.emplace(RegistryClient::base_url_for(*slug), tls_options(o.registry_ca_pem, o), o.token);
    out.metadata = [&] {
      try {
        return fetch_tag_metadata(*anonymous, *slug, fetch);
      } catch (const TagCheckError& e) {
        throw DeployError(e.check() == TagCheck::DigestPin ? DeployStep::DigestPin : DeployStep::Signature, e);
      } catch (const Error& e) {
        throw DeployError(DeployStep::Metadata, e);
      }
    }();
    say(DeployStep::Metadata, "tag " + identity::format_slug(*slug) + " -> " + out.metadata.root_digest);
    if (fetch.expected_digest) say(DeployStep::DigestPin, "matches the pinned " + *fetch.expected_digest);
    say(DeployStep::Signature, out.metadata.signature ? "signed by " + out.metadata.signature->signer_fingerprint
                                                      : std::string("tag is unsigned"));
  }

  // --- platform
  auto provider = in_step(DeployStep::Platform, [&] { return platform::make_provider(platform::spec_from_env(o.platform)); });
  say(DeployStep::Platform, platform::to_string(provider->platform()) +
                                (provider->simulated() ? " (SIMULATED: test root of trust)" : ""));

  // --- attest
  auto [steward, steward_source] = in_step(DeployStep::Attestation, [&] {
    const bool wants_steward = !o.self_signed && provider->platform() != platform::Platform::Nil;
    return wants_steward ? choose_steward(o.steward_url, slug, out.metadata, local_pkg ? &*local_pkg : nullptr,
                                          anonymous ? &*anonymous : nullptr,
                                          [&](const std::string& m) { say(DeployStep::Attestation, m); })
                         : StewardChoice{};
  });
  out.steward_url = steward;
  out.steward_source = steward_source;
  if (!steward.empty()) say(DeployStep::Attestation, "steward " + steward + " (from " + steward_source + ")");
  IdentityOptions id_opts;
  if (slug) {
    id_opts.workload.slug = *slug;
    id_opts.workload.slug->digest_alg.reset();
    id_opts.workload.slug->digest_hex.reset();
  }
  id_opts.workload.digest = out.metadata.root_digest;
  if (out.metadata.signature) id_opts.workload.signer = out.metadata.signature->signer_fingerprint;
  // The application and configuration digests, from the verified directory nodes, read with the
  // access that read the tag (so before attestation; docs/oids.md). A tree without main.wasm gets
  // neither, and the run step reports it.
  const auto package_digests = in_step(DeployStep::Metadata, [&] {
    return identity::package_digests(local_pkg ? list_package_files(*local_pkg)
                                               : list_package_files(*anonymous, *slug, out.metadata.root, fetch));
  });
  if (package_digests) {
    id_opts.workload.app_digest = package_digests->application;
    id_opts.workload.config_digest = package_digests->configuration;
  }
  id_opts.steward_url = (o.self_signed || provider->platform() == platform::Platform::Nil) ? "" : steward;
  id_opts.http = tls_options(o.steward_ca_pem, o);
  id_opts.collateral = o.collateral;
  if (!o.steward_identity_ca_pem.empty())
    id_opts.steward_cas = in_step(DeployStep::Attestation, [&] {
      auto cas = Certificate::chain_from_pem(o.steward_identity_ca_pem);
      require(!cas.empty(), ErrorKind::kInvalidInput, "deploy.bad_option", "the steward identity CA bundle holds no certificate");
      return cas;
    });
  out.identity = in_step(DeployStep::Attestation, [&] { return establish_identity(*provider, id_opts); });
  if (out.identity.self_signed) {
    say(DeployStep::Attestation, "self-signed certificate (no attestation)");
  } else {
    const auto& leaf = out.identity.chain.front();
    say(DeployStep::Attestation,
        "certificate from " + id_opts.steward_url + " for the requested names, issued by " + leaf.issuer() +
            (id_opts.steward_cas.empty()
                 ? " (keep CA not pinned: SHA-256 " + to_hex(out.identity.chain.back().fingerprint_sha256()) +
                       "; pin it with --steward-identity-ca)"
                 : " (chains to the pinned keep CA)"));
  }

  // --- fetch, presenting the keep certificate (a local package is already in memory)
  Package pkg;
  if (local_pkg) {
    pkg = std::move(*local_pkg);
    say(DeployStep::Fetch, "local package: nothing to fetch");
  } else {
    net::ClientOptions mtls = tls_options(o.registry_ca_pem, o);
    mtls.tls.client_cert_pem = out.identity.chain_pem();
    mtls.tls.client_key_pem = out.identity.key.to_pem_pkcs8();
    // The tree is read with the keep's attested certificate alone, so a private repository is
    // readable by the keep without the owner's token ever leaving the metadata step.
    RegistryClient keep_client(RegistryClient::base_url_for(*slug), mtls, "");
    fetch.on_file = [&](const std::string& path) { say(DeployStep::Fetch, "/" + path); };
    pkg = in_step(DeployStep::Fetch, [&] { return fetch_package(keep_client, *slug, out.metadata, fetch); });
    std::size_t bytes = 0;
    for (auto& [p, c] : pkg.files) bytes += c.size();
    say(DeployStep::Fetch, std::to_string(pkg.files.size()) + " files, " + std::to_string(bytes) +
                               " bytes, every digest verified");
  }

  // --- run
  return in_step(DeployStep::Run, [&] {
    const Bytes* wasm = nullptr;
    if (auto it = pkg.files.find("main.wasm"); it != pkg.files.end()) wasm = &it->second;
    if (auto it = pkg.files.find(""); it != pkg.files.end()) wasm = &it->second;  // single-file package
    require(wasm != nullptr, ErrorKind::kInvalidInput, "deploy.no_main_wasm", "the package has no main.wasm");
    runtime::Workload w;
    w.wasm = *wasm;
    if (auto it = pkg.files.find("Enarx.toml"); it != pkg.files.end())
      w.config = runtime::parse_config(as_string(it->second));
    runtime::AssetTree assets = assets_from(pkg.files);
    w.assets = &assets;
    w.identity.cert_chain_pem = out.identity.chain_pem();
    w.identity.key_pem = out.identity.key.to_pem_pkcs8();
    runtime::RunOptions run = o.run;
    // Host directories are for `enarx run` on a developer's machine; a deployed workload gets
    // only its package and in-keep memory.
    run.host_dirs.clear();
    if (!o.workload_ca_pem.empty()) run.tls_ca_pem = o.workload_ca_pem;
    say(DeployStep::Run, "starting main.wasm (" + std::to_string(wasm->size()) + " bytes)");
    out.result = runtime::run_workload(w, run);
    return out;
  });
}

}  // namespace enarx::client
