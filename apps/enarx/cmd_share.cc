// Sharing on the registry: `enarx repo share|unshare|grants` (under the `repo` command that
// cmd_publish.cc registers) and `enarx group`. See docs/drawbridge.md "Sharing".
//
// Exit codes (apps/enarx/exit_codes.h): 0 done; 2 bad command line (incl. both or neither of
// --user/--group); 3 a malformed name or spec; 6 the registry refused the token
// (401/403: not the owner, missing scope) or could not be reached; 7 no such user, repository,
// group, grant or member (or not yours to see).
#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "client/registry_client.h"
#include "command.h"
#include "identity/names.h"
#include "identity/slug.h"

namespace enarx::cli {
namespace {

using client::RegistryClient;

// "[host/]user/<name>": a repository or a group of `user`; "[host/]user" when `with_name` is
// false. Names are checked here so that none can change the request path.
struct OwnedName {
  identity::Slug slug;  // host and user (repo: the name, for base_url_for)
  std::string name;
};

void validate_group_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 128 &&
                  name.find_first_not_of("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-") ==
                      std::string::npos;
  require(ok, ErrorKind::kInvalidInput, "drawbridge.name.group", "invalid group name '" + name + "'");
}

OwnedName parse_owned(const std::string& spec, bool with_name, const char* what) {
  OwnedName out;
  std::string rest = spec;
  auto last = [&] {
    auto slash = rest.rfind('/');
    std::string field = slash == std::string::npos ? rest : rest.substr(slash + 1);
    rest = slash == std::string::npos ? std::string() : rest.substr(0, slash);
    return field;
  };
  if (with_name) {
    out.name = last();
    require(!rest.empty(), ErrorKind::kInvalidInput, "client.share.spec",
            std::string("expected [host/]user/") + what + ", got '" + spec + "'");
  }
  out.slug.user = last();
  out.slug.host = rest;
  identity::validate_user_name(out.slug.user);
  return out;
}

constexpr const char* kExitCodes =
    "\nExit codes: 0 done, 2 usage, 3 malformed name, 6 refused (not the owner, scope) or "
    "unreachable, 7 not found.";

struct Args {
  RegistryFlags reg;
  std::string spec, user, group, access, member;
};

// --user NAME | --group NAME: exactly one (a usage error, outside run_guarded, otherwise).
void need_one_grantee(const Args& a) {
  if (a.user.empty() == a.group.empty())
    throw CLI::ValidationError("--user/--group", "give exactly one of --user and --group");
}

std::pair<RegistryClient::Grantee, std::string> grantee_of(const Args& a) {
  if (!a.user.empty()) {
    identity::validate_user_name(a.user);
    return {RegistryClient::Grantee::User, a.user};
  }
  validate_group_name(a.group);
  return {RegistryClient::Grantee::Group, a.group};
}

RegistryClient client_for(const OwnedName& o, const Args& a) {
  return RegistryClient(RegistryClient::base_url_for(o.slug), a.reg.http(), a.reg.resolved_token());
}

void register_repo_sharing(CLI::App& root) {
  // The `repo` command is cmd_publish.cc's (registered before this file's, by order).
  auto* repo = root.get_subcommand("repo");
  auto a = std::make_shared<Args>();

  auto* share = repo->add_subcommand("share", "Grant a user, or one of your groups, read or write access");
  share->footer(std::string("A reader reads the private repository's tags and trees with their token; a writer also "
                            "publishes tags. Only the owner manages grants.") +
                kExitCodes);
  share->add_option("spec", a->spec, "[host/]user/repo")->required();
  share->add_option("--user", a->user, "Registry user to share with");
  share->add_option("--group", a->group, "One of the repository owner's groups to share with");
  share->add_option("--access", a->access, "read or write")->required()->check(CLI::IsMember({"read", "write"}));
  a->reg.add_to(share);
  share->callback([a] {
    need_one_grantee(*a);
    run_guarded([&] {
      auto [kind, name] = grantee_of(*a);
      auto o = parse_owned(a->spec, true, "repo");
      identity::validate_repo_name(o.name);
      bool created = client_for(o, *a).put_grant(o.slug.user, o.name, kind, name, a->access);
      std::cout << (created ? "shared " : "changed ") << o.slug.user << "/" << o.name << " with "
                << (kind == RegistryClient::Grantee::Group ? "group " : "user ") << name << ": " << a->access
                << "\n";
    });
  });

  auto* unshare = repo->add_subcommand("unshare", "Revoke a user's or a group's access (effective at once)");
  unshare->footer(kExitCodes);
  unshare->add_option("spec", a->spec, "[host/]user/repo")->required();
  unshare->add_option("--user", a->user, "Registry user");
  unshare->add_option("--group", a->group, "Group of the repository owner");
  a->reg.add_to(unshare);
  unshare->callback([a] {
    need_one_grantee(*a);
    run_guarded([&] {
      auto [kind, name] = grantee_of(*a);
      auto o = parse_owned(a->spec, true, "repo");
      identity::validate_repo_name(o.name);
      client_for(o, *a).delete_grant(o.slug.user, o.name, kind, name);
      std::cout << "revoked " << (kind == RegistryClient::Grantee::Group ? "group " : "user ") << name << " on "
                << o.slug.user << "/" << o.name << "\n";
    });
  });

  auto* grants = repo->add_subcommand("grants", "List who a repository is shared with (JSON)");
  grants->footer(kExitCodes);
  grants->add_option("spec", a->spec, "[host/]user/repo")->required();
  a->reg.add_to(grants);
  grants->callback([a] {
    run_guarded([&] {
      auto o = parse_owned(a->spec, true, "repo");
      identity::validate_repo_name(o.name);
      auto g = client_for(o, *a).get_grants(o.slug.user, o.name);
      std::cout << nlohmann::json{{"users", g.users}, {"groups", g.groups}}.dump(2) << "\n";
    });
  });
}

void register_group(CLI::App& root) {
  auto a = std::make_shared<Args>();
  auto* group = root.add_subcommand("group", "Groups of registry users, to share repositories with");
  group->require_subcommand(1);
  group->footer(
      "A group belongs to a registry user, who alone manages its members; a repository can be shared with its "
      "owner's groups.");

  auto* create = group->add_subcommand("create", "Create a group");
  create->footer(kExitCodes);
  create->add_option("spec", a->spec, "[host/]user/group")->required();
  a->reg.add_to(create);
  create->callback([a] {
    run_guarded([&] {
      auto o = parse_owned(a->spec, true, "group");
      validate_group_name(o.name);
      bool created = client_for(o, *a).create_group(o.slug.user, o.name);
      std::cout << (created ? "created group " : "group already exists: ") << o.slug.user << "/" << o.name << "\n";
    });
  });

  auto* del = group->add_subcommand("delete", "Delete a group (its grants are revoked with it)");
  del->footer(kExitCodes);
  del->add_option("spec", a->spec, "[host/]user/group")->required();
  a->reg.add_to(del);
  del->callback([a] {
    run_guarded([&] {
      auto o = parse_owned(a->spec, true, "group");
      validate_group_name(o.name);
      client_for(o, *a).delete_group(o.slug.user, o.name);
      std::cout << "deleted group " << o.slug.user << "/" << o.name << "\n";
    });
  });

  auto* add = group->add_subcommand("add", "Add a registry user to a group");
  add->footer(kExitCodes);
  add->add_option("spec", a->spec, "[host/]user/group")->required();
  add->add_option("member", a->member, "Registry user name")->required();
  a->reg.add_to(add);
  add->callback([a] {
    run_guarded([&] {
      auto o = parse_owned(a->spec, true, "group");
      validate_group_name(o.name);
      identity::validate_user_name(a->member);
      bool added = client_for(o, *a).add_member(o.slug.user, o.name, a->member);
      std::cout << (added ? "added " : "already a member: ") << a->member << " to " << o.slug.user << "/" << o.name
                << "\n";
    });
  });

  auto* remove = group->add_subcommand("remove", "Remove a user from a group (effective at once)");
  remove->footer(kExitCodes);
  remove->add_option("spec", a->spec, "[host/]user/group")->required();
  remove->add_option("member", a->member, "Registry user name")->required();
  a->reg.add_to(remove);
  remove->callback([a] {
    run_guarded([&] {
      auto o = parse_owned(a->spec, true, "group");
      validate_group_name(o.name);
      identity::validate_user_name(a->member);
      client_for(o, *a).remove_member(o.slug.user, o.name, a->member);
      std::cout << "removed " << a->member << " from " << o.slug.user << "/" << o.name << "\n";
    });
  });

  auto* list = group->add_subcommand("list", "List your groups ([host/]user), or a group's members ([host/]user/group)");
  list->footer(kExitCodes);
  list->add_option("spec", a->spec, "[host/]user or [host/]user/group")->required();
  a->reg.add_to(list);
  list->callback([a] {
    run_guarded([&] {
      // "host/user" and "user/group" both have one '/': a host has a '.' or a ':' (or is
      // localhost), a user name never does.
      const auto slashes = std::count(a->spec.begin(), a->spec.end(), '/');
      bool with_group = slashes >= 2;
      if (slashes == 1) {
        const auto first = a->spec.substr(0, a->spec.find('/'));
        with_group = first.find_first_of(".:") == std::string::npos && first != "localhost";
      }
      auto o = parse_owned(a->spec, with_group, "group");
      std::vector<std::string> names;
      if (with_group) {
        validate_group_name(o.name);
        names = client_for(o, *a).group_members(o.slug.user, o.name);
      } else {
        names = client_for(o, *a).list_groups(o.slug.user);
      }
      for (const auto& n : names) std::cout << n << "\n";
    });
  });
}

ENARX_COMMAND(43, register_repo_sharing);
ENARX_COMMAND(44, register_group);

}  // namespace
}  // namespace enarx::cli
