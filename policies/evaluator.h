// evaluator: applies a compiled policy and the household's consent to one message.
//
//   const decision& d = ev.evaluate(topic, payload, consent, now_ms, &announcements);
//
// 1. match the topic (and payload predicate) to a device class; none -> unmatched_topic; a
//    predicate's member given twice -> duplicate_key; a topic only classes with an `announced`
//    predicate could take, never announced -> unannounced_topic, announced as something none of
//    them accepts -> unknown_announcement; a class that announces -> decision::announced();
// 2. take the class's purposes that the consent grants and the operator has not suspended;
// 3. rewrite the payload for all of them in one pass (json_rewriter), fail closed;
// 4. one release per purpose that receives at least one field, topic from its template.
//
// Pure: no I/O, no clock (now_ms is given), no threads; announcements are read through the table
// the caller passes (announcement.h) and never kept here. The compiled policy is shared and
// immutable; an evaluator owns mutable scratch (buffers, pseudonym cache) and must be used by one
// thread at a time — give each thread its own. Construction derives the per-purpose keys, so
// build a new evaluator when the policy is swapped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policies/compiled_policy.h"
#include "policies/consent_snapshot.h"
#include "policies/decision.h"
#include "policies/json_rewriter.h"
#include "policies/pseudonymiser.h"

namespace portier::policies {

struct engine_identity {
  std::string gateway_id;            // appears in upstream topics as {gateway}
  std::vector<std::uint8_t> secret;  // the gateway's pseudonym secret, at least 16 bytes
};

struct engine_limits {
  std::size_t max_payload_bytes = 64 * 1024;
  std::size_t max_depth = 16;  // at most kMaxJsonDepth
  std::size_t max_topic_bytes = 1024;
};

class evaluator {
 public:
  evaluator(std::shared_ptr<const compiled_policy> policy, engine_identity identity, engine_limits limits = {});

  // `announcements` (may be null: nothing was announced) is read for classes with an
  // `announced` predicate; the evaluator does not record into it (the caller does, from
  // decision::announced()).
  const decision& evaluate(std::string_view topic, std::string_view payload,
                           const consent_snapshot& consent, std::int64_t now_ms,
                           announcement_table* announcements = nullptr);

  // Whether `purpose` is granted for a device of a class, with the purpose's default applied.
  bool granted(const consent_snapshot& consent, std::size_t purpose, std::string_view device,
               std::string_view device_class) const;

  const compiled_policy& policy() const { return *policy_; }
  const std::shared_ptr<const compiled_policy>& shared_policy() const { return policy_; }
  const engine_identity& identity() const { return identity_; }

  // The pseudonym a purpose receives for a device id (as in upstream topics).
  std::string device_pseudonym(std::size_t purpose, std::string_view device_id);

 private:
  const compiled_class* match(std::string_view topic, std::string_view payload, std::optional<drop_reason>& failure);
  bool announced_fits(const compiled_predicate& p, std::string_view topic);
  // Fills decision_.announcement_ when class `c` announces and the payload says something.
  void read_announced(const compiled_class& c, std::string_view payload);
  bool render_device_id(const compiled_class& c);
  void render_topic(const compiled_class& c, std::size_t purpose, std::string& out);
  // A tested predicate's member (or one on its path) twice; `c` (may be null) is the class taken.
  bool predicate_path_twice(const compiled_class* c, std::string_view payload);
  void raw_rewrite(const compiled_class& c, std::string_view payload, std::span<rewrite_output> outputs);
  void drop(drop_reason r) { ++decision_.drops_[static_cast<std::size_t>(r)]; }

  std::shared_ptr<const compiled_policy> policy_;
  engine_identity identity_;
  engine_limits limits_;
  pseudonymiser names_;
  json_rewriter rewriter_;
  decision decision_;
  std::array<std::string_view, topic_filter::kMaxCaptures> captures_{};
  const topic_filter* matched_filter_ = nullptr;
  std::vector<rewrite_output> outputs_;
  std::vector<const compiled_predicate*> tested_;  // predicates tested for the message, in order
  std::string scratch_;
  // The message's announcement look-up: done at most once, for the first announced predicate.
  announcement_table* announcements_ = nullptr;
  std::int64_t now_ms_ = 0;
  bool looked_up_ = false;
  bool have_meaning_ = false;
  announced_meaning meaning_;
  std::string about_topic_;
};

}  // namespace portier::policies
