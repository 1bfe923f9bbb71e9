// Every word the LAN page shows, in English and French: one `texts` per language, so a page reads
// `t.pause_button` and a missing translation is a compile error. A "{}" in a text is filled by
// fill() with already formatted plain text, and the result is escaped like any other string.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "gateway/web/app.h"

namespace portier::gateway::web {

struct texts {
  std::string_view lang_tag;  // "en", "fr": <html lang>
  // Layout.
  std::string_view brand, skip_link, nav_label, nav_home, nav_purposes, nav_devices, nav_receipts,
      nav_export, nav_updates, session_label, log_out, log_out_everywhere, go_home;
  // What left my home.
  std::string_view sharing_heading, paused_state, active_state, pause_button, resume_button,
      suspended_heading, suspended_intro, span_label, span_day, span_week, span_month, summary,
      ledger_starts, nothing_left, chart_per_hour, chart_per_6h, chart_per_day, chart_desc,
      chart_bar, col_purpose, col_messages, col_size, col_fields, erased_device, forgotten_device,
      kept_heading, kept_intro, kept_nothing;
  // Purposes.
  std::string_view purposes_intro, paused_note, policy_note, no_purposes, legal_basis,
      basis_consent, basis_contract, basis_legitimate, basis_obligation, basis_unknown,
      special_heading, special_health, special_location, special_biometric, receives_heading,
      receives_from, receives_nothing, receives_no_device, decision_heading, allowed, refused,
      by_default, decided, method_web, method_cli, method_config, method_policy_update,
      suspended_note, allow_home, refuse_home, clear_home, class_decisions_heading, class_decision,
      clear, clear_for, per_device_heading, from_device, from_class, from_household, from_default,
      allow, refuse, allow_for, refuse_for, follow_home, follow_home_for, budget_heading,
      budget_text, budget_raised;
  // Devices.
  std::string_view devices_intro, no_devices, device_summary, shares_with, shares_with_none,
      erased_notice, erased_upstream_sent, erased_upstream_waiting;
  // One device.
  std::string_view latest_heading, received_at, topic_label, binary_payload, whole_dropped,
      left_heading, sent_on, sent_as_summary, received_nothing, worked_out, erase_heading,
      erase_intro, erase_link, device_unseen;
  // Erase.
  std::string_view erase_title, erase_spool, erase_ledger, erase_upstream, erase_final,
      erase_confirm_button, erase_cancel;
  // Receipts.
  std::string_view receipts_title, receipts_intro, no_receipts, col_when, col_decision, col_scope,
      col_how, col_policy, col_receipt, decision_granted, decision_refused, decision_cleared,
      decision_paused, decision_resumed, scope_household, scope_class, receipts_older,
      policy_version;
  // Export.
  std::string_view export_title, export_intro, export_button;
  // Policy updates.
  std::string_view updates_intro, no_updates, update_applied, update_refused, update_widens,
      change_widens, change_before, change_after, nothing, change_heading, no_changes,
      unnamed_version;
  // Failures.
  std::string_view failed_title, failed_unavailable, failed_internal, failed_invalid,
      failed_not_found, box_said;
  // Error pages.
  std::string_view error_400, error_403, error_404, error_405, error_408, error_413, error_414,
      error_429, error_500, error_502, error_503, error_421, error_other, error_heading;
  // Pairing.
  std::string_view login_title, login_intro, code_label, code_hint, login_button, wrong_code,
      slow_down, codes_voided, expired, unavailable;
};

const texts& texts_for(language lang);

// `pattern` with each "{}" replaced by the next argument, in order (extra "{}" stay empty).
std::string fill(std::string_view pattern, std::initializer_list<std::string_view> args);

// Plain words for a drop reason name ("consent_refused" → "you have not allowed it"); the name
// itself when it is not known.
std::string drop_reason_text(language lang, std::string_view reason);
// Plain words for a policy update's rejection code ("bad-signature"); the code when not known.
std::string rejection_text(language lang, std::string_view code);

}  // namespace portier::gateway::web
