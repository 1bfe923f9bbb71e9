#include "gateway/policy_installer.h"

#include "platform/log.h"
#include "platform/wall_clock.h"
#include "policies/bundle_verifier.h"
#include "policies/release_changes.h"

namespace portier::gateway {

using platform::wall_ms;

policies::engine_limits limits_from(const gateway_config& config) {
  policies::engine_limits l;
  l.max_payload_bytes = config.proto.limits().max_payload_bytes();
  l.max_depth = config.proto.limits().max_depth();
  return l;
}

void policy_installer::install(std::shared_ptr<const policies::compiled_policy> next,
                               const gateway_config& config, std::string_view source) {
  std::lock_guard lock(mu_);
  const auto running = pipe_.policy();
  for (const auto& purpose : policies::widened_defaults(*running, *next)) {
    // The household never decided, and the old policy kept it refused: keep it so.
    bool decided = false;
    for (const auto& d : consent_.decisions()) {
      decided = decided || (d.purpose == purpose && d.scope == consent_scope::household);
    }
    if (decided) continue;
    consent_shown s;
    s.policy_name = next->name();
    s.policy_version = next->version();
    (void)consent_.decide(consent_scope::household, "", purpose, consent_choice::refuse,
                          "policy-update", s, wall_ms());
    platform::log_warning("policy update would grant purpose ", purpose,
                          " without consent: kept refused");
  }
  const auto raised = policies::raised_caps(*running, *next);
  pipe_.install(std::make_shared<policies::evaluator>(next, identity_, limits_from(config)),
                consent_.snapshot());
  for (const auto& p : next->purposes()) {
    if (!p.suspended) continue;
    store_.purge(p.id, spool::scope::household, "");
    if (windows_ != nullptr) windows_->purge(p.id, spool::scope::household, "");
  }
  ingress_.resubscribe();
  const std::int64_t now = wall_ms();
  std::vector<ledger::cap_change> changes;
  for (const auto& r : raised) {
    platform::log_warning("policy \"", next->name(), "\" version ", next->version(),
                          " raises the daily privacy budget of purpose ", r.purpose, " from ",
                          r.before, " to ", r.after, ": more is released about each device");
    changes.push_back({r.purpose, r.before, r.after});
    if (windows_ != nullptr)
      windows_->note_cap_raise({r.purpose, r.before, r.after, now, next->name(), next->version()});
  }
  // What each purpose receives from each class, before and after, for the household to see.
  const auto released = policies::compare_releases(*running, *next);
  std::vector<release_change_record> records;
  records.reserve(released.changes.size());
  for (const auto& c : released.changes)
    records.push_back({c.class_id, c.purpose_id, c.before, c.after, c.widens});
  const bool widens = released.widens || !raised.empty();
  if (released.widens) {
    platform::log_warning("policy \"", next->name(), "\" version ", next->version(),
                          " widens what leaves the home: see `portierctl updates`");
  }
  record_.record_policy(next->name(), next->version(), source, true, "", now, changes, records,
                        widens);
}

}  // namespace portier::gateway
