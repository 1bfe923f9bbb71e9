// The LAN page in English (texts.h).
#include "gateway/web/pages/texts.h"

namespace portier::gateway::web {

extern const texts texts_en;
const texts texts_en = {
    .lang_tag = "en",
    .brand = "Portier",
    .skip_link = "Skip to the content",
    .nav_label = "Pages",
    .nav_home = "What left my home",
    .nav_purposes = "Purposes",
    .nav_devices = "Devices",
    .nav_receipts = "Receipts",
    .nav_export = "Export",
    .nav_updates = "Policy updates",
    .session_label = "This browser",
    .log_out = "Log out",
    .log_out_everywhere = "Log out everywhere",
    .go_home = "Go to the start page",

    .sharing_heading = "Sharing",
    .paused_state = "Sharing is paused: nothing leaves your home. Your decisions are kept.",
    .active_state = "Sharing is on: each purpose receives what you allowed.",
    .pause_button = "Pause all sharing",
    .resume_button = "Resume sharing",
    .suspended_heading = "Stopped by the operator",
    .suspended_intro =
        "The operator has stopped these purposes: they receive nothing, whatever you decided.",
    .span_label = "Period",
    .span_day = "Last day",
    .span_week = "Last week",
    .span_month = "Last month",
    .summary = "From {} to {}, what left your home: {}, {}.",
    .ledger_starts = "The record only goes back to {}: older entries made room for newer ones.",
    .nothing_left = "Nothing left your home in this period.",
    .chart_per_hour = "Messages that left your home, per hour",
    .chart_per_6h = "Messages that left your home, per 6 hours",
    .chart_per_day = "Messages that left your home, per day",
    .chart_desc = "{} in total, from {} to {}; the most at once: {} ({}).",
    .chart_bar = "{}: {}",
    .col_purpose = "Purpose",
    .col_messages = "Messages",
    .col_size = "Size",
    .col_fields = "What left",
    .erased_device = "An erased device",
    .forgotten_device = "A forgotten device",
    .kept_heading = "Kept at home",
    .kept_intro = "Kept at home in this period, by reason:",
    .kept_nothing = "Nothing was held back in this period.",

    .purposes_intro =
        "Each purpose is a use the operator makes of what your devices measure. "
        "You decide which of them receive anything.",
    .paused_note = "Sharing is paused: no purpose receives anything until you resume it.",
    .policy_note = "Purposes of the policy {}, version {}.",
    .no_purposes = "The running policy has no purpose.",
    .legal_basis = "Legal basis",
    .basis_consent = "Your consent: it receives nothing until you allow it.",
    .basis_contract = "Your contract with the operator: allowed unless you refuse it.",
    .basis_legitimate = "The operator’s legitimate interest: allowed unless you refuse it.",
    .basis_obligation = "A legal obligation of the operator: allowed unless you refuse it.",
    .basis_unknown = "Not stated.",
    .special_heading = "Sensitive data",
    .special_health = "Health data: it always needs your explicit permission.",
    .special_location = "Where people are: it always needs your explicit permission.",
    .special_biometric = "Biometric data: it always needs your explicit permission.",
    .receives_heading = "What it receives",
    .receives_from = "From {}: {}",
    .receives_nothing = "nothing",
    .receives_no_device = "None of your devices is of a kind this purpose takes anything from.",
    .decision_heading = "Your decision for the whole home",
    .allowed = "Allowed",
    .refused = "Refused",
    .by_default = "the default: you have not decided",
    .decided = "decided {}, {}",
    .method_web = "on this page",
    .method_cli = "with portierctl",
    .method_config = "by the box’s first settings",
    .method_policy_update = "kept refused when a policy update would have widened it",
    .suspended_note =
        "The operator has stopped this purpose: it receives nothing, whatever you decide.",
    .allow_home = "Allow for the whole home",
    .refuse_home = "Refuse for the whole home",
    .clear_home = "Back to the default",
    .class_decisions_heading = "Decisions for kinds of device",
    .class_decision = "Every {}: {}",
    .clear = "Clear",
    .clear_for = "Clear the decision for {}",
    .per_device_heading = "Per device",
    .from_device = "your decision for this device",
    .from_class = "your decision for its kind",
    .from_household = "your decision for the home",
    .from_default = "the default",
    .allow = "Allow",
    .refuse = "Refuse",
    .allow_for = "Allow {} for {}",
    .refuse_for = "Refuse {} for {}",
    .follow_home = "Follow the home’s decision",
    .follow_home_for = "Follow the home’s decision on {} for {}",
    .budget_heading = "Privacy budget",
    .budget_text =
        "Noise hides each device’s readings: at most ε {} a day per device. Today "
        "the most any device spent is ε {}.",
    .budget_raised =
        "The operator raised this budget from ε {} to ε {} a day on {} (policy {}, "
        "version {}): more can be learnt about each device.",

    .devices_intro =
        "Every device the box has seen. Open one to see its latest message beside "
        "what left of it.",
    .no_devices = "No device has been seen yet.",
    .device_summary = "{} · last message {} · {} since the box started",
    .shares_with = "Shares with: {}.",
    .shares_with_none = "Shares with no purpose.",
    .erased_notice =
        "{} was erased: what waited to be sent was destroyed, and the record no "
        "longer says which device it was.",
    .erased_upstream_sent = "The operator was asked to erase it too.",
    .erased_upstream_waiting =
        "The request asking the operator to erase it too waits at home: "
        "it is sent when the connection is back.",

    .latest_heading = "Its latest message, as it sent it",
    .received_at = "Received {} ({}).",
    .topic_label = "Topic",
    .binary_payload = "Binary content, {}: not shown.",
    .whole_dropped = "Nothing of it left your home: {}.",
    .left_heading = "What left of it, per purpose",
    .sent_on = "Sent on",
    .sent_as_summary =
        "This message stays at home: its values leave only as a summary when the period it falls "
        "in ends (Purposes says which period).",
    .received_nothing = "Received nothing: {}.",
    .worked_out = "Worked out with the running policy ({}, version {}) and your current decisions.",
    .erase_heading = "Erase this device",
    .erase_intro =
        "Destroys what waits to be sent from it, makes its record anonymous, and asks "
        "the operator to erase it too.",
    .erase_link = "Erase {}…",
    .device_unseen = "It has sent nothing since the box started: there is no message to show.",

    .erase_title = "Erase {}?",
    .erase_spool = "What waits at home to be sent from it is destroyed unsent.",
    .erase_ledger =
        "The record of what left keeps counting its messages but no longer says "
        "which device it was.",
    .erase_upstream = "The operator is asked to erase what it received from it.",
    .erase_final = "This cannot be undone.",
    .erase_confirm_button = "Yes, erase {}",
    .erase_cancel = "No, keep it",

    .receipts_title = "Consent receipts",
    .receipts_intro =
        "A receipt for every decision, newest first, chained so that an edit "
        "would show. The export holds them all with their hashes.",
    .no_receipts = "No receipt yet.",
    .col_when = "When",
    .col_decision = "Decision",
    .col_scope = "For",
    .col_how = "How",
    .col_policy = "Policy",
    .col_receipt = "Receipt",
    .decision_granted = "Allowed",
    .decision_refused = "Refused",
    .decision_cleared = "Back to the default",
    .decision_paused = "Paused all sharing",
    .decision_resumed = "Resumed sharing",
    .scope_household = "the whole home",
    .scope_class = "every {}",
    .receipts_older = "{} older receipts are not shown here; the export holds them.",
    .policy_version = "{}, version {}",

    .export_title = "Export my data",
    .export_intro =
        "One file (JSON) with the record of everything that left your home and "
        "every consent receipt: your rights of access and portability (GDPR "
        "articles 15 and 20).",
    .export_button = "Download my data",

    .updates_intro =
        "The operator’s policy says what each purpose receives. Every policy "
        "offered to the box is listed here, newest first.",
    .no_updates = "No policy update is recorded.",
    .update_applied = "Applied.",
    .update_refused = "Refused: the running policy stayed ({}).",
    .update_widens = "More leaves your home since this update.",
    .change_widens = "more leaves",
    .change_before = "Before",
    .change_after = "After",
    .nothing = "nothing",
    .change_heading = "{}, from {}",
    .no_changes = "It changed nothing in what leaves.",
    .unnamed_version = "A policy, version {}",

    .failed_title = "The box could not answer",
    .failed_unavailable = "The box’s service cannot do it right now. Try again in a moment.",
    .failed_internal =
        "Something went wrong inside the box. Try again; if it lasts, restart "
        "the box.",
    .failed_invalid = "The box refused the request.",
    .failed_not_found = "The box does not know what was asked for.",
    .box_said = "The box said: “{}”",

    .error_400 = "The request was not understood.",
    .error_403 = "This is not allowed.",
    .error_404 = "There is no such page.",
    .error_405 = "This page does not take that kind of request.",
    .error_408 = "The request took too long.",
    .error_413 = "The request is too large.",
    .error_414 = "The address is too long.",
    .error_429 = "Too many requests: wait a moment and try again.",
    .error_500 = "Something went wrong on the box.",
    .error_502 = "The box’s service gave an answer the page cannot use.",
    .error_503 = "The box’s service cannot be reached right now: try again in a moment.",
    .error_421 =
        "The box does not answer at this address. Open the page at the address portierctl pair "
        "shows.",
    .error_other = "Something went wrong.",
    .error_heading = "Error {}",

    .login_title = "Pair this browser",
    .login_intro =
        "On the box, run portierctl pair: it shows a code that works once, for 10 "
        "minutes. Type it here.",
    .code_label = "Pairing code",
    .code_hint = "8 letters and digits, like ABCD-2345.",
    .login_button = "Pair",
    .wrong_code = "That code is wrong, already used or expired. Run portierctl pair for a new one.",
    .slow_down = "Too many attempts: try again in {} seconds.",
    .codes_voided = "Too many wrong codes: every code is now void. Run portierctl pair again.",
    .expired = "Your session ended. Pair this browser again.",
    .unavailable = "The box’s service cannot be reached right now: try again in a moment.",
};

}  // namespace portier::gateway::web
