#include "gateway/household/household_service.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gateway/household/control_protocol.h"
#include "gateway/status_report.h"
#include "platform/ctr_drbg.h"
#include "platform/log.h"
#include "platform/wall_clock.h"
#include "policies/explain.h"
#include "policies/json_text.h"

namespace portier::gateway {

using platform::wall_ms;

namespace {

using control::Response;

Response failure(Response::Code code, std::string message) {
  Response r;
  r.set_code(code);
  r.set_message(std::move(message));
  return r;
}

policy::Purpose::LegalBasis to_proto(policies::legal_basis b) {
  switch (b) {
    case policies::legal_basis::consent: return policy::Purpose::CONSENT;
    case policies::legal_basis::contract: return policy::Purpose::CONTRACT;
    case policies::legal_basis::legitimate_interest: return policy::Purpose::LEGITIMATE_INTEREST;
    case policies::legal_basis::legal_obligation: return policy::Purpose::LEGAL_OBLIGATION;
  }
  return policy::Purpose::LEGAL_BASIS_UNSPECIFIED;
}

policy::Purpose::SpecialCategory to_proto(policies::special_category c) {
  switch (c) {
    case policies::special_category::none: return policy::Purpose::NOT_SPECIAL;
    case policies::special_category::health: return policy::Purpose::HEALTH;
    case policies::special_category::location: return policy::Purpose::LOCATION;
    case policies::special_category::biometric: return policy::Purpose::BIOMETRIC;
  }
  return policy::Purpose::NOT_SPECIAL;
}

// The reason a whole message was dropped, if it was (the first message-level reason counted).
std::string message_level_reason(const policies::decision& d) {
  for (std::size_t i = 0; i <= static_cast<std::size_t>(policies::drop_reason::no_purpose_granted); ++i) {
    if (d.drops()[i] > 0) return std::string(policies::drop_reason_name(static_cast<policies::drop_reason>(i)));
  }
  // A state the gateway no longer knows the meaning of (its announcement was forgotten).
  for (auto r :
       {policies::drop_reason::unannounced_topic, policies::drop_reason::unknown_announcement}) {
    if (d.drops(r) > 0) return std::string(policies::drop_reason_name(r));
  }
  return "";
}

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;
void put(json_writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

std::shared_ptr<const policies::compiled_policy> household_service::policy() { return ctx_.pipe->policy(); }

// Made for each request, not kept: an evaluator holds its policy, and one kept between requests
// would keep a replaced policy (about a megabyte for the defaults) alive until the next request.
std::unique_ptr<policies::evaluator> household_service::explainer() {
  return std::make_unique<policies::evaluator>(policy(), ctx_.identity, policies::engine_limits{});
}

consent_shown household_service::shown(const policies::compiled_purpose* p) const {
  consent_shown s;
  auto running = ctx_.pipe->policy();
  if (running) {
    s.policy_name = running->name();
    s.policy_version = running->version();
  }
  if (p != nullptr) {
    s.purpose_title = p->title;
    s.purpose_description = p->description;
  }
  return s;
}

namespace {

// The platform's CTR-DRBG, made at the first code (a failure to seed it then fails that `pair`).
pairing_codes::random_fill system_random() {
  return [drbg = std::shared_ptr<platform::ctr_drbg>()](std::span<std::uint8_t> out) mutable {
    if (!drbg) {
      auto made = platform::ctr_drbg::from_system();
      if (!made) {
        platform::log_error("pairing: no random source: ", made.error_message());
        return false;
      }
      drbg = std::move(*made);
    }
    return drbg->fill(out);
  };
}

// The request's command as proto/control.proto names it ("devices", "redeem_pairing").
std::string command_name(const control::Request& request) {
  const auto* field =
      control::Request::descriptor()->FindFieldByNumber(static_cast<int>(request.command_case()));
  return field != nullptr ? field->name() : "none";
}

}  // namespace

household_service::household_service(household_context ctx)
    : ctx_(std::move(ctx)), codes_(ctx_.random ? ctx_.random : system_random()) {}

control::Response household_service::handle(const control::Request& request) {
  const auto c = request.command_case();
  const bool pairing = c == control::Request::kPair || c == control::Request::kRedeemPairing;
  if (request.method() != "web" && !pairing) return answer(request);
  // The page repeats its announcement every minute (portierd may have restarted): only a new or
  // changed one is worth an entry, else the ledger fills with the page's heartbeat.
  const bool repeated = c == control::Request::kWebAnnounce && announced(request.web_announce());
  Response r = answer(request);
  if (!(repeated && r.code() == Response::OK)) {
    ctx_.record->record_access(request.method(), command_name(request), r.code() == Response::OK,
                               wall_ms());
  }
  return r;
}

bool household_service::announced(const control::WebAnnounceRequest& a) const {
  std::lock_guard lock(web_mu_);
  return a.fingerprint_sha256() == web_.fingerprint_sha256 &&
         std::equal(a.urls().begin(), a.urls().end(), web_.urls.begin(), web_.urls.end());
}

control::Response household_service::answer(const control::Request& request) {
  if (!policy()) return failure(Response::UNAVAILABLE, "The gateway has no policy loaded yet: try again in a moment.");
  const std::string& method = request.method();
  switch (request.command_case()) {
    case control::Request::kStatus: return status();
    case control::Request::kDevices: return devices();
    case control::Request::kPurposes: return purposes();
    case control::Request::kSetConsent: return set_consent(request.set_consent(), method);
    case control::Request::kPause: return pause(true, method);
    case control::Request::kResume: return pause(false, method);
    case control::Request::kReport: return report(request.report());
    case control::Request::kExplain: return explain(request.explain());
    case control::Request::kExportLedger: return export_ledger();
    case control::Request::kErase: return erase(request.erase());
    case control::Request::kVerifyLedger: return verify_ledger();
    case control::Request::kUnmatched: return unmatched(request.unmatched());
    case control::Request::kPair:
      // The page must never make its own codes: a bug there would then open sessions.
      if (method == "web") {
        return failure(Response::PERMISSION_DENIED,
                       "Pairing codes are made on the box with `portierctl pair`, never through "
                       "the LAN page.");
      }
      return pair();
    case control::Request::kRedeemPairing:
      return redeem_pairing(request.redeem_pairing());
    case control::Request::kWebAnnounce:
      return web_announce(request.web_announce());
    case control::Request::kPolicyHistory:
      return policy_history(request.policy_history());
    default: return failure(Response::INVALID_REQUEST, "The request names no command: see `portierctl help`.");
  }
}

control::Response household_service::status() {
  Response r;
  auto* s = r.mutable_status();
  auto running = policy();
  s->set_version(kPortierVersion);
  s->set_gateway_id(ctx_.config->proto.gateway_id());
  s->set_policy_name(running->name());
  s->set_policy_version(running->version());
  s->set_uptime_seconds(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - ctx_.started).count()));
  s->set_paused(ctx_.consent->paused());
  s->set_local_connected(ctx_.local_connected && ctx_.local_connected());
  s->set_upstream_connected(ctx_.upstream_connected && ctx_.upstream_connected());
  auto& c = *s->mutable_counters();
#define PORTIER_STATUS_COUNTER(name, help) c[#name] = ctx_.stats->name.load();
  PORTIER_GATEWAY_COUNTERS(PORTIER_STATUS_COUNTER)
#undef PORTIER_STATUS_COUNTER
  for (std::size_t i = 0; i < policies::kDropReasonCount; ++i) {
    if (const auto n = ctx_.stats->drops[i].load()) {
      c["dropped." + std::string(policies::drop_reason_name(static_cast<policies::drop_reason>(i)))] = n;
    }
  }
  for (std::size_t i = 0; i < kTlsFailureKindCount; ++i) {
    if (const auto n = ctx_.stats->upstream_tls_by_kind[i].load()) {
      c["upstream_tls_failures." +
        std::string(tls_failure_name(static_cast<tls_failure_kind>(i)))] = n;
    }
  }
  for (const auto& [purpose, n] : ctx_.stats->released_by_purpose()) c["released." + purpose] = n;
  c["spool_pending"] = ctx_.store->pending();
  c["spool_bytes"] = ctx_.store->bytes();
  c["unmatched_shapes"] = ctx_.unmatched ? ctx_.unmatched->size() : 0;
  c["windows_open"] = ctx_.windows ? ctx_.windows->open_windows() : 0;
  for (const auto& [purpose, n] : ctx_.stats->epsilon_micro_by_purpose())
    c["epsilon_micro." + purpose] = n;
  std::lock_guard lock(web_mu_);
  for (const auto& url : web_.urls) s->add_web_urls(url);
  s->set_web_fingerprint_sha256(web_.fingerprint_sha256);
  return r;
}

control::Response household_service::devices() {
  Response r;
  auto* out = r.mutable_devices();
  auto running = policy();
  const auto explaining = explainer();
  auto& ev = *explaining;
  const auto consent = ctx_.consent->snapshot();
  const auto decisions = ctx_.consent->decisions();
  out->set_paused(consent->paused());
  for (const auto& d : ctx_.devices->list()) {
    auto* dev = out->add_device();
    dev->set_device_id(d.device_id);
    dev->set_class_id(d.device_class);
    dev->set_last_seen_ms(d.last_seen_ms);
    dev->set_messages(d.messages);
    const policies::compiled_class* c = running->find_class(d.device_class);
    dev->set_class_title(c ? c->title : d.device_class);
    if (c == nullptr) continue;  // the policy changed since: nothing leaves for this class now
    for (std::size_t p : c->purposes) {
      const auto& purpose = running->purposes()[p];
      auto* dp = dev->add_purpose();
      dp->set_purpose_id(purpose.id);
      dp->set_title(purpose.title);
      dp->set_granted(ev.granted(*consent, p, d.device_id, c->id));
      dp->set_suspended(purpose.suspended);
      consent::Scope decided = consent::SCOPE_UNSPECIFIED;
      for (const auto& e : decisions) {
        if (e.purpose != purpose.id) continue;
        if (e.scope == consent_scope::device && e.scope_value == d.device_id) decided = consent::SCOPE_DEVICE;
        if (e.scope == consent_scope::device_class && e.scope_value == c->id && decided != consent::SCOPE_DEVICE) {
          decided = consent::SCOPE_DEVICE_CLASS;
        }
        if (e.scope == consent_scope::household && decided == consent::SCOPE_UNSPECIFIED) {
          decided = consent::SCOPE_HOUSEHOLD;
        }
      }
      dp->set_decided_at(decided);
      for (std::size_t f = 0; f < c->fields.size(); ++f) {
        const std::string phrase = policies::explain_field(*c, f, p);
        if (!phrase.empty()) dp->add_receives(phrase);
      }
    }
  }
  return r;
}

control::Response household_service::purposes() {
  Response r;
  auto* out = r.mutable_purposes();
  auto running = policy();
  const auto consent = ctx_.consent->snapshot();
  const auto decisions = ctx_.consent->decisions();
  // Who made each decision is in its receipt.
  const auto receipts = ctx_.consent->receipts();
  std::map<std::string_view, const consent_receipt*> receipt_by_id;
  for (const auto& e : decisions) receipt_by_id.emplace(e.receipt_id, nullptr);
  for (const auto& rc : receipts) {
    if (auto it = receipt_by_id.find(rc.id); it != receipt_by_id.end()) it->second = &rc;
  }
  out->set_paused(consent->paused());
  out->set_policy_name(running->name());
  out->set_policy_version(running->version());
  for (const auto& p : running->purposes()) {
    auto* info = out->add_purpose();
    info->set_id(p.id);
    info->set_title(p.title);
    info->set_description(p.description);
    info->set_legal_basis(to_proto(p.basis));
    info->set_special_category(to_proto(p.category));
    info->set_default_granted(p.granted_by_default);
    info->set_suspended(p.suspended);
    info->set_retention_seconds(p.retention_seconds);
    if (ctx_.windows != nullptr && p.epsilon_per_day > 0) {
      const auto b = ctx_.windows->summary(*running, p.id, wall_ms());
      info->set_epsilon_per_day(p.epsilon_per_day);
      info->set_epsilon_spent_today(b.most_spent_today);
      info->set_epsilon_spent_total(b.lifetime_total);
      info->set_epsilon_devices(static_cast<std::uint32_t>(b.devices));
      if (const auto raise = ctx_.windows->last_cap_raise(p.id)) {
        info->set_epsilon_raised_from(raise->before);
        info->set_epsilon_raised_at_ms(raise->at_ms);
        info->set_epsilon_raised_by_policy(raise->policy_name);
        info->set_epsilon_raised_by_version(raise->policy_version);
      }
    }
    bool household = p.granted_by_default;
    for (const auto& e : decisions) {
      if (e.purpose != p.id) continue;
      auto* d = info->add_decision();
      d->set_scope(consent_scope_to_proto(e.scope));
      d->set_value(e.scope_value);
      if (e.scope == consent_scope::device_class) {
        const auto* c = running->find_class(e.scope_value);
        d->set_title(c ? c->title : e.scope_value);
      }
      d->set_granted(e.granted);
      d->set_decided_at_ms(e.decided_at_ms);
      d->set_receipt_id(e.receipt_id);
      if (const consent_receipt* rc = receipt_by_id[e.receipt_id]) {
        d->set_method(rc->method);
        d->set_policy_name(rc->shown.policy_name);
        d->set_policy_version(rc->shown.policy_version);
      }
      if (e.scope == consent_scope::household) household = e.granted;
    }
    info->set_household_granted(household);
  }
  return r;
}

control::Response household_service::set_consent(const control::SetConsentRequest& req, const std::string& method) {
  auto running = policy();
  const int index = running->purpose_index(req.purpose());
  if (index < 0) {
    return failure(Response::NOT_FOUND, "No purpose called \"" + req.purpose() +
                                            "\" in the running policy: run `portierctl purposes` to see them.");
  }
  const auto& purpose = running->purposes()[static_cast<std::size_t>(index)];
  consent_scope scope = consent_scope::household;
  spool::scope purge_scope = spool::scope::household;
  switch (req.scope()) {
    case consent::SCOPE_HOUSEHOLD:
    case consent::SCOPE_UNSPECIFIED: break;
    case consent::SCOPE_DEVICE_CLASS:
      if (running->find_class(req.value()) == nullptr) {
        return failure(Response::NOT_FOUND, "No device class called \"" + req.value() +
                                                "\" in the running policy: run `portierctl devices` to see them.");
      }
      scope = consent_scope::device_class;
      purge_scope = spool::scope::device_class;
      break;
    case consent::SCOPE_DEVICE:
      scope = consent_scope::device;
      purge_scope = spool::scope::device;
      break;
    default: return failure(Response::INVALID_REQUEST, "Unknown scope: use --device or --class, or neither.");
  }
  consent_choice choice = consent_choice::grant;
  switch (req.decision()) {
    case control::DECISION_GRANT: choice = consent_choice::grant; break;
    case control::DECISION_REFUSE: choice = consent_choice::refuse; break;
    case control::DECISION_CLEAR: choice = consent_choice::clear; break;
    default: return failure(Response::INVALID_REQUEST, "Say whether to grant, refuse or clear the purpose.");
  }
  const std::string value = scope == consent_scope::household ? "" : req.value();
  auto receipt = ctx_.consent->decide(scope, value, purpose.id, choice, method, shown(&purpose), wall_ms());
  if (!receipt) return failure(Response::INVALID_REQUEST, receipt.error_message());
  ctx_.record->record_consent(*receipt);
  // In force before the next message; once set_consent returns no message is still being
  // handled under the old decision, so nothing evaluated before can land after the purge.
  auto snapshot = ctx_.consent->snapshot();
  ctx_.pipe->set_consent(snapshot);
  Response r;
  auto* out = r.mutable_set_consent();
  consent_receipt_to_proto(*receipt, *out->mutable_receipt());
  // A withdrawal destroys what waits for this purpose in this scope.
  bool refused_now = choice == consent_choice::refuse;
  if (choice == consent_choice::clear) {
    const std::string_view device = scope == consent_scope::device ? std::string_view(value) : "";
    const std::string_view cls = scope == consent_scope::device_class ? std::string_view(value) : "";
    const auto d = snapshot->lookup(device, cls, purpose.id);
    refused_now = d == policies::consent_decision::refused ||
                  (d == policies::consent_decision::unset && !purpose.granted_by_default);
  }
  if (refused_now) {
    out->set_spool_records_purged(ctx_.store->purge(purpose.id, purge_scope, value));
    // The samples gathered for it wait in windows: they go too, before the next tick.
    if (ctx_.windows != nullptr)
      out->set_windows_purged(ctx_.windows->purge(purpose.id, purge_scope, value));
  }
  platform::log_info("consent: ", receipt_decision_name(receipt->decision), " purpose ", purpose.id, " (",
                     consent_scope_name(scope), "), ", out->spool_records_purged(), " waiting releases purged");
  return r;
}

control::Response household_service::pause(bool on, const std::string& method) {
  auto receipt = on ? ctx_.consent->pause(method, shown(nullptr), wall_ms())
                    : ctx_.consent->resume(method, shown(nullptr), wall_ms());
  if (!receipt) return failure(Response::INTERNAL, receipt.error_message());
  if (*receipt) ctx_.record->record_consent(**receipt);
  ctx_.pipe->set_consent(ctx_.consent->snapshot());
  Response r;
  auto* out = on ? r.mutable_pause() : r.mutable_resume();
  out->set_paused(on);
  out->set_changed(receipt->has_value());
  if (*receipt) consent_receipt_to_proto(**receipt, *out->mutable_receipt());
  platform::log_info(on ? "paused by the household" : "resumed by the household");
  return r;
}

control::Response household_service::report(const control::ReportRequest& req) {
  auto running = policy();
  const auto explaining = explainer();
  auto& ev = *explaining;
  const std::int64_t now = wall_ms();
  // Validation bounded the count against the server's clock; this one may differ by a little.
  const std::size_t buckets =
      req.bucket_ms() > 0
          ? static_cast<std::size_t>(
                std::min(report_buckets(req.since_ms(), req.bucket_ms(), now), kMaxReportBuckets))
          : 0;
  const auto rep = ctx_.record->report(req.since_ms(), req.bucket_ms(), buckets);
  Response r;
  auto* out = r.mutable_report();
  out->set_since_ms(rep.since_ms);
  out->set_until_ms(now);
  out->set_bucket_ms(buckets > 0 ? req.bucket_ms() : 0);
  out->set_buckets(static_cast<std::uint32_t>(buckets));
  out->set_ledger_starts_ms(rep.oldest_ms);
  for (const auto& row : rep.releases) {
    auto* o = out->add_row();
    o->set_device_id(row.device);
    o->set_device_erased(row.device_erased);
    o->set_device_forgotten(row.device_forgotten);
    o->set_class_id(row.device_class);
    const auto* c = running->find_class(row.device_class);
    o->set_class_title(c ? c->title : row.device_class);
    o->set_purpose_id(row.purpose);
    const int p = running->purpose_index(row.purpose);
    o->set_title(p >= 0 ? running->purposes()[static_cast<std::size_t>(p)].title : row.purpose);
    if (p >= 0 && !row.device_erased && !row.device_forgotten && !row.device.empty()) {
      o->set_pseudonym(ev.device_pseudonym(static_cast<std::size_t>(p), row.device));
    }
    for (const auto& f : row.fields) o->add_fields(f);
    o->set_messages(row.count);
    o->set_bytes(row.bytes);
    o->set_epsilon_micro(row.epsilon_micro);
    o->set_first_ms(row.first_minute_ms);
    o->set_last_ms(row.last_minute_ms);
    for (std::size_t i = 0; i < buckets; ++i) {
      o->add_bucket_messages(i < row.bucket_count.size() ? row.bucket_count[i] : 0);
      o->add_bucket_bytes(i < row.bucket_bytes.size() ? row.bucket_bytes[i] : 0);
    }
  }
  for (const auto& [reason, n] : rep.drops) {
    auto* d = out->add_dropped();
    d->set_reason(reason);
    d->set_count(n);
  }
  out->set_total_messages(rep.released_count);
  out->set_total_bytes(rep.released_bytes);
  out->set_total_dropped(rep.dropped_count);
  return r;
}

control::Response household_service::explain(const control::ExplainRequest& req) {
  const auto d = ctx_.devices->find(req.device());
  if (!d) {
    return failure(Response::NOT_FOUND,
                   "That device has not sent anything since the gateway started: run `portierctl devices` to see "
                   "the devices seen.");
  }
  auto running = policy();
  const auto explaining = explainer();
  auto& ev = *explaining;
  const auto consent = ctx_.consent->snapshot();
  Response r;
  auto* out = r.mutable_explain();
  out->set_device_id(d->device_id);
  out->set_class_id(d->device_class);
  out->set_topic(d->last_topic);
  out->set_payload_bytes(d->last_payload.size());
  out->set_received_ms(d->last_seen_ms);
  out->set_policy_name(running->name());
  out->set_policy_version(running->version());
  const bool text = policies::valid_utf8(d->last_payload);
  out->set_payload_binary(!text);
  if (text) out->set_payload(d->last_payload);
  const policies::decision& dec =
      ev.evaluate(d->last_topic, d->last_payload, *consent, wall_ms(), ctx_.announcements);
  out->set_dropped_reason(message_level_reason(dec));
  const policies::compiled_class* c = dec.device_class() ? dec.device_class() : running->find_class(d->device_class);
  out->set_class_title(c ? c->title : d->device_class);
  if (c == nullptr) return r;
  for (std::size_t p : c->purposes) {
    const auto& purpose = running->purposes()[p];
    auto* ep = out->add_purpose();
    ep->set_purpose_id(purpose.id);
    ep->set_title(purpose.title);
    const policies::release* rel = nullptr;
    for (const auto& x : dec.releases()) {
      if (x.purpose == p) rel = &x;
    }
    if (rel != nullptr) {
      ep->set_released(true);
      ep->set_topic(rel->topic);
      ep->set_payload(rel->payload);
    } else if (consent->paused()) {
      ep->set_reason("paused");
    } else if (purpose.suspended) {
      ep->set_reason("purpose_suspended");
    } else if (!ev.granted(*consent, p, d->device_id, c->id)) {
      ep->set_reason("consent_refused");
    } else if (!out->dropped_reason().empty()) {
      ep->set_reason(out->dropped_reason());
    } else {
      ep->set_reason("nothing_permitted");
    }
  }
  return r;
}

control::Response household_service::export_ledger() {
  // The ledger as it stands now: the open minute's aggregates are written first (read() leaves
  // them out), else an export lacks up to a minute of releases that `report` already shows. A
  // later release in the same minute then gets a second entry, which readers add up.
  ctx_.record->flush_all(wall_ms());
  const auto records = ctx_.record->read(0);
  const auto receipts = ctx_.consent->receipts();
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  put(w, "gateway_id", ctx_.config->proto.gateway_id());
  w.Key("exported_at_ms");
  w.Int64(wall_ms());
  w.Key("ledger");
  w.StartArray();
  for (const auto& e : records) {
    w.StartObject();
    w.Key("seq");
    w.Uint64(e.seq);
    w.Key("time_ms");
    w.Int64(e.time_ms);
    switch (e.type) {
      case ledger_record::kind::release:
        put(w, "type", "release");
        put(w, "device", e.device_erased ? "(erased device)" : e.device);
        put(w, "device_class", e.device_class);
        put(w, "purpose", e.purpose);
        w.Key("minute_ms");
        w.Int64(e.minute_ms);
        w.Key("fields");
        w.StartArray();
        for (const auto& f : e.fields) w.String(f.c_str(), static_cast<rapidjson::SizeType>(f.size()));
        w.EndArray();
        w.Key("count");
        w.Uint64(e.count);
        w.Key("bytes");
        w.Uint64(e.bytes);
        w.Key("epsilon_micro");
        w.Uint64(e.epsilon_micro);
        break;
      case ledger_record::kind::drops:
        put(w, "type", "drops");
        w.Key("minute_ms");
        w.Int64(e.minute_ms);
        w.Key("dropped");
        w.StartObject();
        for (const auto& [reason, n] : e.drops) {
          w.Key(reason.c_str(), static_cast<rapidjson::SizeType>(reason.size()));
          w.Uint64(n);
        }
        w.EndObject();
        break;
      case ledger_record::kind::consent:
        put(w, "type", "consent");
        put(w, "receipt_id", e.receipt.id);
        put(w, "decision", receipt_decision_name(e.receipt.decision));
        put(w, "purpose", e.receipt.purpose);
        put(w, "scope", consent_scope_name(e.receipt.scope));
        put(w, "scope_value", e.receipt.scope_value);
        break;
      case ledger_record::kind::policy:
        put(w, "type", "policy");
        put(w, "policy_name", e.policy_name);
        w.Key("policy_version");
        w.Uint64(e.policy_version);
        put(w, "source", e.policy_source);
        w.Key("applied");
        w.Bool(e.policy_applied);
        put(w, "reason", e.policy_reason);
        w.Key("cap_raised");
        w.StartArray();
        for (const auto& cr : e.cap_raises) {
          w.StartObject();
          put(w, "purpose", cr.purpose);
          w.Key("before_micro");
          w.Uint64(cr.before_micro);
          w.Key("after_micro");
          w.Uint64(cr.after_micro);
          w.EndObject();
        }
        w.EndArray();
        w.Key("widens");
        w.Bool(e.policy_widens);
        w.Key("changes");
        w.StartArray();
        for (const auto& c : e.policy_changes) {
          w.StartObject();
          put(w, "class_id", c.class_id);
          put(w, "purpose", c.purpose);
          w.Key("before");
          w.StartArray();
          for (const auto& b : c.before)
            w.String(b.c_str(), static_cast<rapidjson::SizeType>(b.size()));
          w.EndArray();
          w.Key("after");
          w.StartArray();
          for (const auto& a : c.after)
            w.String(a.c_str(), static_cast<rapidjson::SizeType>(a.size()));
          w.EndArray();
          w.Key("widens");
          w.Bool(c.widens);
          w.EndObject();
        }
        w.EndArray();
        break;
      case ledger_record::kind::access:
        put(w, "type", "access");
        put(w, "method", e.access_method);
        put(w, "command", e.access_command);
        w.Key("ok");
        w.Bool(e.access_ok);
        break;
      case ledger_record::kind::erasure:
        put(w, "type", "erasure");
        w.Key("pseudonyms");
        w.StartArray();
        for (const auto& [purpose, pseudonym] : e.pseudonyms) {
          w.StartObject();
          put(w, "purpose", purpose);
          put(w, "pseudonym", pseudonym);
          w.EndObject();
        }
        w.EndArray();
        w.Key("spool_records");
        w.Uint64(e.spool_records);
        w.Key("ledger_entries");
        w.Uint64(e.ledger_entries);
        break;
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("receipts");
  w.StartArray();
  for (const auto& rc : receipts) {
    w.StartObject();
    put(w, "id", rc.id);
    w.Key("time_ms");
    w.Int64(rc.time_ms);
    put(w, "scope", consent_scope_name(rc.scope));
    put(w, "scope_value", rc.scope_value);
    put(w, "purpose", rc.purpose);
    put(w, "decision", receipt_decision_name(rc.decision));
    put(w, "method", rc.method);
    put(w, "purpose_title", rc.shown.purpose_title);
    put(w, "purpose_description", rc.shown.purpose_description);
    put(w, "policy_name", rc.shown.policy_name);
    w.Key("policy_version");
    w.Uint64(rc.shown.policy_version);
    put(w, "prev_hash", rc.prev_hash);
    put(w, "hash", rc.hash);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  Response r;
  auto* out = r.mutable_export_ledger();
  out->set_json(buf.GetString(), buf.GetSize());
  out->set_ledger_entries(records.size());
  out->set_receipts(receipts.size());
  return r;
}

control::Response household_service::erase(const control::EraseRequest& req) {
  auto running = policy();
  const auto explaining = explainer();
  auto& ev = *explaining;
  const std::string& device = req.device();
  std::vector<std::pair<std::string, std::string>> pseudonyms;
  std::uint64_t purged = 0;
  for (std::size_t p = 0; p < running->purposes().size(); ++p) {
    const auto& id = running->purposes()[p].id;
    pseudonyms.emplace_back(id, ev.device_pseudonym(p, device));
    purged += ctx_.store->purge(id, spool::scope::device, device);
  }
  // Its samples in open windows, every purpose at once (one new key, not one per purpose).
  const std::uint64_t windows_purged =
      ctx_.windows != nullptr ? ctx_.windows->purge("", spool::scope::device, device) : 0;
  auto erased = ctx_.record->erase_device(device, pseudonyms, purged, wall_ms());
  if (!erased) return failure(Response::INTERNAL, "The ledger could not erase the device: " + erased.error_message());
  ctx_.devices->forget(device);
  std::uint64_t shapes_cleared = 0;
  if (ctx_.unmatched != nullptr) {
    auto cleared = ctx_.unmatched->clear();
    if (!cleared) {
      platform::log_warning("erasure: the unmatched shapes could not be removed: ",
                            cleared.error_message());
    } else {
      shapes_cleared = *cleared;
    }
  }

  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  put(w, "gateway", ctx_.config->proto.gateway_id());
  w.Key("requested_at_ms");
  w.Int64(wall_ms());
  w.Key("pseudonyms");
  w.StartArray();
  for (const auto& [purpose, pseudonym] : pseudonyms) {
    w.StartObject();
    put(w, "purpose", purpose);
    put(w, "pseudonym", pseudonym);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  const std::string topic = "portier/" + ctx_.config->proto.gateway_id() + "/erasure";
  const bool acknowledged = ctx_.publish && ctx_.publish(topic, buf.GetString());
  if (!acknowledged) {
    // Not confirmed now: the request waits in the spool like a release and is sent (at least
    // once) when upstream is back. "-erasure" cannot clash with a policy's purpose ids.
    const std::int64_t now = wall_ms();
    constexpr std::int64_t kErasureRetentionMs = 30LL * 24 * 3600 * 1000;
    if (ctx_.store->append("-erasure", topic, buf.GetString(), now + kErasureRetentionMs, "", "", now,
                           spool::clock::now()) == 0) {
      return failure(Response::UNAVAILABLE,
                     "The device was erased at home, but the erasure request for the operator could not be stored: "
                     "run the same command again.");
    }
  }

  Response r;
  auto* out = r.mutable_erase();
  out->set_device_id(device);
  out->set_spool_records_purged(purged);
  out->set_ledger_entries_erased(erased->ledger_entries);
  for (const auto& [purpose, pseudonym] : pseudonyms) {
    auto* pp = out->add_pseudonyms();
    pp->set_purpose(purpose);
    pp->set_pseudonym(pseudonym);
  }
  out->set_erasure_topic(topic);
  out->set_upstream_acknowledged(acknowledged);
  out->set_unmatched_shapes_cleared(shapes_cleared);
  out->set_windows_purged(windows_purged);
  platform::log_info("erasure: ", purged, " waiting releases and ", erased->ledger_entries,
                     " ledger entries erased; upstream ", acknowledged ? "acknowledged" : "did not acknowledge",
                     " the request");
  return r;
}

control::Response household_service::verify_ledger() {
  const auto check = ctx_.record->verify();
  const auto receipts = ctx_.consent->verify_receipts();
  Response r;
  auto* out = r.mutable_verify_ledger();
  out->set_ok(check.ok);
  out->set_entries_checked(check.count);
  out->set_first_seq(check.first_seq);
  out->set_first_bad_seq(check.bad_seq);
  out->set_problem(std::string(ledger_problem_name(check.problem)));
  out->set_reason(check.detail);
  out->set_head_hash(check.head_hash);
  out->set_receipts_ok(receipts.ok);
  out->set_receipts_checked(receipts.count);
  out->set_receipts_bad_id(receipts.receipt_id);
  out->set_receipts_reason(receipts.reason);
  return r;
}

control::Response household_service::unmatched(const control::UnmatchedRequest& req) {
  Response r;
  auto* out = r.mutable_unmatched();
  if (ctx_.unmatched == nullptr) return r;
  out->set_max_shapes(static_cast<std::uint32_t>(ctx_.unmatched->max_shapes()));
  out->set_evicted(ctx_.unmatched->evicted());
  if (req.clear()) {
    auto cleared = ctx_.unmatched->clear();
    if (!cleared) {
      return failure(Response::INTERNAL,
                     "The shapes could not be forgotten on disk: " + cleared.error_message());
    }
    out->set_cleared(*cleared);
    return r;
  }
  for (auto& s : ctx_.unmatched->list()) *out->add_shape() = std::move(s);
  return r;
}

control::Response household_service::pair() {
  const auto made = codes_.make(wall_ms());
  if (!made) {
    return failure(Response::INTERNAL,
                   "No pairing code could be made (the random source failed); try again, and if "
                   "it fails again see `journalctl -u portierd`.");
  }
  Response r;
  auto* out = r.mutable_pair();
  out->set_code(made->text);
  out->set_expires_at_ms(made->expires_at_ms);
  std::lock_guard lock(web_mu_);
  for (const auto& url : web_.urls) out->add_web_urls(url);
  out->set_web_fingerprint_sha256(web_.fingerprint_sha256);
  platform::log_info("pairing: a code was made for the LAN page");
  return r;
}

control::Response household_service::redeem_pairing(const control::RedeemPairingRequest& req) {
  switch (codes_.redeem(req.code(), wall_ms())) {
    case pairing_codes::outcome::ok: {
      Response r;
      r.mutable_redeem_pairing();
      platform::log_info("pairing: a code was redeemed");
      return r;
    }
    case pairing_codes::outcome::locked:
      return failure(Response::UNAVAILABLE,
                     "Too many wrong pairing codes: every code is void. Run `portierctl pair` on "
                     "the box for a new one.");
    case pairing_codes::outcome::not_found:
      break;
  }
  return failure(Response::NOT_FOUND,
                 "That pairing code is wrong, used or expired: run `portierctl pair` for a new "
                 "one.");
}

control::Response household_service::web_announce(const control::WebAnnounceRequest& req) {
  {
    std::lock_guard lock(web_mu_);
    web_.urls.assign(req.urls().begin(), req.urls().end());
    web_.fingerprint_sha256 = req.fingerprint_sha256();
  }
  platform::log_info("the LAN page announced ", req.urls_size(), " addresses");
  Response r;
  r.mutable_web_announce();
  return r;
}

control::Response household_service::policy_history(const control::PolicyHistoryRequest& req) {
  const std::size_t limit = req.limit() == 0 ? kDefaultPolicyHistory : req.limit();
  const auto records = ctx_.record->read(0, ledger_record::kind::policy);
  auto running = policy();
  Response r;
  auto* out = r.mutable_policy_history();
  for (auto it = records.rbegin();
       it != records.rend() && static_cast<std::size_t>(out->update_size()) < limit; ++it) {
    auto* u = out->add_update();
    u->set_time_ms(it->time_ms);
    u->set_name(it->policy_name);
    u->set_version(it->policy_version);
    u->set_source(it->policy_source);
    u->set_applied(it->policy_applied);
    u->set_reason_code(it->policy_reason);
    u->set_widens(it->policy_widens);
    for (const auto& c : it->policy_changes) {
      auto* x = u->add_change();
      x->set_class_id(c.class_id);
      const auto* cls = running->find_class(c.class_id);
      x->set_class_title(cls != nullptr ? cls->title : c.class_id);
      x->set_purpose_id(c.purpose);
      const int p = running->purpose_index(c.purpose);
      x->set_purpose_title(p >= 0 ? running->purposes()[static_cast<std::size_t>(p)].title
                                  : c.purpose);
      for (const auto& b : c.before) x->add_before(b);
      for (const auto& a : c.after) x->add_after(a);
      x->set_widens(c.widens);
    }
  }
  return r;
}

}  // namespace portier::gateway
