// Publisher side: `enarx key`, `enarx user`, `enarx repo`, `enarx package`.
#include <sys/stat.h>

#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "client/deploy.h"
#include "client/jws.h"
#include "client/package_digests.h"
#include "client/registry_client.h"
#include "command.h"
#include "core/crypto.h"
#include "identity/slug.h"
#include "jose/jose.h"

namespace enarx::cli {
namespace {

using client::RegistryClient;

// "[host/]user" or "[host/]user/repo" (no tag).
identity::Slug parse_spec(const std::string& spec, bool with_repo) {
  identity::Slug s;
  std::string rest = spec;
  auto cut = [&](std::string& field) {
    auto slash = rest.rfind('/');
    if (slash == std::string::npos) {
      field = rest;
      rest.clear();
    } else {
      field = rest.substr(slash + 1);
      rest = rest.substr(0, slash);
    }
  };
  if (with_repo) {
    cut(s.repo);
    require(!rest.empty(), ErrorKind::kInvalidInput, "drawbridge.slug.invalid", "expected [host/]user/repo, got " + spec);
  }
  cut(s.user);
  s.host = rest;
  if (with_repo) identity::parse_slug(identity::format_slug(s));  // validates names
  return s;
}

// Only to default --subject: the registry verifies the token, the CLI just reads it.
std::string subject_from_token(const std::string& token) {
  constexpr jose::Codes kCodes{ErrorKind::kInvalidInput, "client.token", "client.token",
                               "the token is not a JWT (pass --subject): "};
  auto claims = jose::decode_jwt(token, kCodes).claims;
  require(claims.contains("sub") && claims["sub"].is_string(), ErrorKind::kInvalidInput, "client.token", "token has no sub claim");
  return claims["sub"].get<std::string>();
}

void register_key(CLI::App& root) {
  auto* key = root.add_subcommand("key", "Publisher signing keys");
  key->require_subcommand(1);
  struct Args {
    std::string out, curve = "p384", file;
  };
  auto a = std::make_shared<Args>();
  auto* gen = key->add_subcommand("generate", "Generate a publisher signing key (EC, PKCS#8 PEM, mode 0600)");
  gen->add_option("--out,-o", a->out, "Where to write the private key")->required();
  gen->add_option("--curve", a->curve, "p256 or p384")->check(CLI::IsMember({"p256", "p384"}));
  gen->callback([a] {
    run_guarded([&] {
      require(!std::filesystem::exists(a->out), ErrorKind::kConflict, "io.exists", a->out + " already exists; not overwriting a key");
      auto k = PrivateKey::generate(a->curve == "p256" ? KeyType::EcP256 : KeyType::EcP384);
      write_file_atomic(a->out, k.to_pem_pkcs8(), 0600);
      std::cout << "wrote " << a->out << "\nfingerprint " << jws::key_fingerprint(k.public_key()) << "\n";
    });
  });
  auto* fp = key->add_subcommand("fingerprint", "Print a key's fingerprint (SHA-256 of its SubjectPublicKeyInfo)");
  fp->add_option("file", a->file, "PEM private or public key")->required();
  fp->callback([a] {
    run_guarded([&] {
      std::string pem = read_text_file(a->file);
      PublicKey pub = pem.find("PRIVATE KEY") != std::string::npos ? PrivateKey::from_pem(pem).public_key()
                                                                     : PublicKey::from_pem(pem);
      std::cout << jws::key_fingerprint(pub) << "\n";
    });
  });
}

void register_user_repo(CLI::App& root) {
  struct Args {
    RegistryFlags reg;
    std::string spec, subject, steward;
    bool is_private = false, clear = false;
  };
  auto a = std::make_shared<Args>();

  auto* user = root.add_subcommand("user", "Registry users");
  user->require_subcommand(1);
  auto* ureg = user->add_subcommand("register", "Create a user record owned by the token's subject");
  ureg->add_option("spec", a->spec, "[host/]user")->required();
  ureg->add_option("--subject", a->subject, "OIDC subject (default: the token's sub claim)");
  a->reg.add_to(ureg);
  ureg->callback([a] {
    run_guarded([&] {
      auto s = parse_spec(a->spec, false);
      std::string subject = a->subject.empty() ? subject_from_token(a->reg.resolved_token()) : a->subject;
      RegistryClient rc(RegistryClient::base_url_for(s), a->reg.http(), a->reg.resolved_token());
      bool created = rc.put_user(s.user, subject);
      std::cout << (created ? "registered user " : "user already exists: ") << s.user << "\n";
    });
  });
  auto* uinfo = user->add_subcommand("info", "Show a user record");
  uinfo->add_option("spec", a->spec, "[host/]user")->required();
  a->reg.add_to(uinfo);
  uinfo->callback([a] {
    run_guarded([&] {
      auto s = parse_spec(a->spec, false);
      RegistryClient rc(RegistryClient::base_url_for(s), a->reg.http(), a->reg.resolved_token());
      std::cout << drawbridge::user_to_json(rc.get_user(s.user)) << "\n";
    });
  });

  auto* repo = root.add_subcommand("repo", "Registry repositories");
  repo->require_subcommand(1);
  auto* rreg = repo->add_subcommand("register", "Create a repository (public unless --private)");
  rreg->add_option("spec", a->spec, "[host/]user/repo")->required();
  rreg->add_flag("--private", a->is_private, "Readable only by the owner and by keeps attested for it");
  rreg->add_option("--steward", a->steward, "Steward (https://) the registry names for this repository's keeps");
  a->reg.add_to(rreg);
  rreg->callback([a] {
    run_guarded([&] {
      auto s = parse_spec(a->spec, true);
      RegistryClient rc(RegistryClient::base_url_for(s), a->reg.http(), a->reg.resolved_token());
      std::optional<std::string> steward;
      if (!a->steward.empty()) steward = a->steward;
      bool created = rc.put_repo(s.user, s.repo, !a->is_private, steward);
      std::cout << (created ? "registered " : "repository already exists: ") << s.user << "/" << s.repo
                << (a->is_private ? " (private)" : " (public)") << "\n";
    });
  });
  auto* rinfo = repo->add_subcommand("info", "Show a repository's config and tags");
  rinfo->add_option("spec", a->spec, "[host/]user/repo")->required();
  a->reg.add_to(rinfo);
  rinfo->callback([a] {
    run_guarded([&] {
      auto s = parse_spec(a->spec, true);
      RegistryClient rc(RegistryClient::base_url_for(s), a->reg.http(), a->reg.resolved_token());
      auto cfg = rc.get_repo(s.user, s.repo);
      nlohmann::json out = {{"public", cfg.is_public},
                            {"steward", cfg.steward ? nlohmann::json(*cfg.steward) : nlohmann::json(nullptr)},
                            {"tags", rc.list_tags(s.user, s.repo)}};
      std::cout << out.dump(2) << "\n";
    });
  });
  auto* rsteward = repo->add_subcommand(
      "steward", "Show which steward the registry names for a repository, or (owner) set it with a URL or --clear");
  rsteward->add_option("spec", a->spec, "[host/]user/repo")->required();
  rsteward->add_option("url", a->steward, "Steward URL (https://) to set");
  rsteward->add_flag("--clear", a->clear, "Remove the repository's steward (keeps get the registry's default)");
  a->reg.add_to(rsteward);
  rsteward->callback([a] {
    run_guarded([&] {
      auto s = parse_spec(a->spec, true);
      RegistryClient rc(RegistryClient::base_url_for(s), a->reg.http(), a->reg.resolved_token());
      require(!(a->clear && !a->steward.empty()), ErrorKind::kInvalidInput, "cli.bad_option",
              "give a URL or --clear, not both");
      if (a->clear || !a->steward.empty()) {
        std::optional<std::string> url;
        if (!a->clear) url = a->steward;
        rc.set_repo_steward(s.user, s.repo, url);
      }
      auto answer = rc.discover_steward(s.user, s.repo, std::nullopt);
      nlohmann::json out = {{"steward", answer.url ? nlohmann::json(*answer.url) : nlohmann::json(nullptr)},
                            {"source", answer.source}};
      std::cout << out.dump(2) << "\n";
    });
  });
}

void register_package(CLI::App& root) {
  struct Args {
    RegistryFlags reg;
    std::string dir, slug, sign_key, out, steward;
  };
  auto a = std::make_shared<Args>();
  auto* pkg = root.add_subcommand("package", "Publish, inspect and fetch workload packages");
  pkg->require_subcommand(1);

  auto* pub = pkg->add_subcommand("publish", "Upload a package directory (main.wasm, Enarx.toml, assets) as a tag");
  pub->add_option("dir", a->dir, "Package directory")->required()->check(CLI::ExistingDirectory);
  pub->add_option("slug", a->slug, "[host/]user/repo:tag")->required();
  pub->add_option("--sign-key", a->sign_key, "Sign the tag with this publisher key (enarx key generate)");
  pub->add_option("--steward", a->steward,
                  "Steward (https://) keeps deploying this tag should use, stated in the signed tag (needs --sign-key)");
  a->reg.add_to(pub);
  pub->callback([a] {
    run_guarded([&] {
      auto slug = identity::parse_slug(a->slug, true);
      RegistryClient rc(RegistryClient::base_url_for(slug), a->reg.http(), a->reg.resolved_token());
      std::optional<PrivateKey> key;
      if (!a->sign_key.empty()) key = PrivateKey::from_pem(read_text_file(a->sign_key));
      client::PublishOptions opts;
      if (key) opts.signing_key = &*key;
      if (!a->steward.empty()) opts.steward = a->steward;
      opts.on_node = [](const std::string& path, std::size_t i, std::size_t n, bool uploaded) {
        std::cerr << "  [" << (i + 1) << "/" << n << "] /" << path << (uploaded ? "  uploaded" : "  already there")
                  << "\n";
      };
      auto r = client::publish_package(rc, slug, a->dir, opts);
      std::cout << (r.already_published ? "already published " : "published ") << identity::format_slug(slug)
                << "\ndigest " << r.root_digest << "\n";
      if (r.signer) std::cout << "signed by " << *r.signer << "\n";
      std::cout << "uploaded " << r.uploaded << ", skipped " << r.skipped << "\n";
    });
  });

  auto* info = pkg->add_subcommand("info", "Show a tag's root entry, digest and signature");
  info->add_option("slug", a->slug, "[host/]user/repo:tag")->required();
  a->reg.add_to(info);
  info->callback([a] {
    run_guarded([&] {
      auto slug = identity::parse_slug(a->slug, true);
      RegistryClient rc(RegistryClient::base_url_for(slug), a->reg.http(), a->reg.resolved_token());
      auto md = client::fetch_tag_metadata(rc, slug, {});
      nlohmann::json out = {{"slug", identity::format_slug(slug)},
                            {"digest", md.root_digest},
                            {"root", nlohmann::json::parse(drawbridge::entry_to_json(md.root))},
                            {"signed", md.signature.has_value()}};
      if (md.signature) out["signer"] = md.signature->signer_fingerprint;
      // What a keep of this tag is named by besides the digest (docs/oids.md), from the
      // verified directory nodes.
      const auto digests = identity::package_digests(client::list_package_files(rc, slug, md.root));
      out["app_digest"] = digests ? nlohmann::json(digests->application) : nlohmann::json(nullptr);
      out["config_digest"] = digests ? nlohmann::json(digests->configuration) : nlohmann::json(nullptr);
      // Which steward a keep deploying it is sent to, were it deployed without --steward (the
      // same choice `enarx deploy` makes; docs/drawbridge.md "Which steward").
      auto steward = client::choose_steward({}, slug, md, nullptr, &rc, [](const std::string&) {});
      out["steward"] = steward.url.empty() ? nlohmann::json(nullptr) : nlohmann::json(steward.url);
      out["steward_source"] = steward.url.empty() ? nlohmann::json(nullptr) : nlohmann::json(steward.source);
      std::cout << out.dump(2) << "\n";
    });
  });

  auto* fetch = pkg->add_subcommand("fetch", "Download a package tree (every digest verified) into a directory");
  fetch->add_option("slug", a->slug, "[host/]user/repo:tag[@alg:hex]")->required();
  fetch->add_option("--out,-o", a->out, "Destination directory (must not exist)")->required();
  a->reg.add_to(fetch);
  fetch->callback([a] {
    run_guarded([&] {
      auto slug = identity::parse_slug(a->slug, true);
      RegistryClient rc(RegistryClient::base_url_for(slug), a->reg.http(), a->reg.resolved_token());
      client::FetchOptions opts;
      if (slug.digest_alg) opts.expected_digest = *slug.digest_alg + ":" + *slug.digest_hex;
      auto progress = std::make_shared<Progress>("fetch");
      opts.on_file = [progress](const std::string& p) { progress->label("/" + p); };
      opts.on_bytes = [progress](std::uint64_t d, std::optional<std::uint64_t> t) { progress->update(d, t); };
      auto md = client::fetch_tag_metadata(rc, slug, opts);
      auto pkg = client::fetch_package(rc, slug, md, opts);
      require(!std::filesystem::exists(a->out), ErrorKind::kConflict, "io.exists", a->out + " already exists");
      std::filesystem::create_directories(a->out);
      for (const auto& [path, content] : pkg.files) {
        auto target = std::filesystem::path(a->out) / (path.empty() ? "main.wasm" : path);
        std::filesystem::create_directories(target.parent_path());
        write_file_atomic(target, content);
      }
      std::cout << "fetched " << pkg.files.size() << " files into " << a->out << " (" << md.root_digest << ")\n";
    });
  });
}

ENARX_COMMAND(40, register_key);
ENARX_COMMAND(41, register_user_repo);
ENARX_COMMAND(42, register_package);

}  // namespace
}  // namespace enarx::cli
