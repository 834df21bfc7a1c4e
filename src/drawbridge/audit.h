// The registry audit log's public form (docs/drawbridge.md "Registry audit log"): one JSON
// object per event, the same for GET <user>/_audit and `drawbridge audit --json`.
#pragma once

#include <nlohmann/json.hpp>

#include "drawbridge/store.h"

namespace enarx::drawbridge {

inline nlohmann::ordered_json audit_record_json(const AuditRecord& r) {
  return nlohmann::ordered_json{{"seq", r.seq},
                                {"at", r.event.at},
                                {"action", r.event.action},
                                {"user", r.event.user},
                                {"repo", r.event.repo},
                                {"tag", r.event.tag},
                                {"actor", {{"issuer", r.event.actor_issuer}, {"subject", r.event.actor_subject}}},
                                {"detail", r.event.detail}};
}

}  // namespace enarx::drawbridge
