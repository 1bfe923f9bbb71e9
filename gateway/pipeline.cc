#include "gateway/pipeline.h"

namespace portier::gateway {

void pipeline::install(std::shared_ptr<policies::evaluator> ev,
                       std::shared_ptr<const policies::consent_snapshot> consent) {
  std::lock_guard lock(mu_);
  current_ = std::move(ev);
  consent_ = std::move(consent);
  std::lock_guard readers(readers_mu_);
  policy_for_readers_ = current_ ? current_->shared_policy() : nullptr;
  evaluator_for_readers_ = current_;
  consent_for_readers_ = consent_;
}

void pipeline::set_consent(std::shared_ptr<const policies::consent_snapshot> consent) {
  std::lock_guard lock(mu_);
  consent_ = std::move(consent);
  std::lock_guard readers(readers_mu_);
  consent_for_readers_ = consent_;
}

void pipeline::set_admission(admission a) {
  std::lock_guard lock(mu_);
  admit_ = std::move(a);
}

void pipeline::set_announcements(policies::announcement_table* table) {
  std::lock_guard lock(mu_);
  announcements_ = table;
}

std::shared_ptr<const policies::compiled_policy> pipeline::policy() const {
  std::lock_guard lock(readers_mu_);
  return policy_for_readers_;
}

std::shared_ptr<const policies::evaluator> pipeline::evaluator_for_readers() const {
  std::lock_guard lock(readers_mu_);
  return evaluator_for_readers_;
}

std::shared_ptr<const policies::consent_snapshot> pipeline::consent() const {
  std::lock_guard lock(readers_mu_);
  return consent_for_readers_;
}

void pipeline::process(std::string_view topic, std::string_view payload, std::int64_t now_ms,
                       const sink& out, const observer& seen, const window_sink& windows) {
  std::lock_guard lock(mu_);
  ++counters_.received;
  if (!current_) {  // no policy: fail closed
    ++counters_.dropped;
    return;
  }
  const policies::decision& d =
      current_->evaluate(topic, payload, *consent_, now_ms, announcements_);
  if (announcements_ != nullptr && d.announced() != nullptr)
    announcements_->record(*d.announced(), now_ms);
  const bool admitted =
      !admit_ || d.device_class() == nullptr || admit_(d.device_id(), d.device_class()->id, now_ms);
  policies::drop_counts drops{};
  if (admitted) {
    drops = d.drops();
  } else {
    drops[static_cast<std::size_t>(policies::drop_reason::device_churn)] = 1;
  }
  for (std::size_t i = 0; i < policies::kDropReasonCount; ++i) {
    if (drops[i] != 0) counters_.drops[i] += drops[i];
  }
  if (!admitted || d.releases().empty()) ++counters_.dropped;
  if (admitted) {
    bool windowed = false;
    for (const auto& r : d.releases()) {
      if (r.windowed) {
        windowed = true;
        continue;
      }
      const auto& purpose = current_->policy().purposes()[r.purpose];
      ++counters_.released;
      counters_.add_released(purpose.id);
      out(r, purpose, d);
    }
    if (windowed && windows) {
      for (const auto& r : d.releases()) counters_.window_samples += r.windowed ? 1 : 0;
      windows(current_->policy(), d);
    }
  }
  if (seen) seen(d, drops, admitted);
}

std::vector<std::string> pipeline::subscriptions(std::span<const std::string> extra) const {
  const auto p = policy();
  return p ? p->subscriptions(extra) : std::vector<std::string>{};
}

std::string pipeline::policy_name() const {
  const auto p = policy();
  return p ? p->name() : "";
}

std::uint64_t pipeline::policy_version() const {
  const auto p = policy();
  return p ? p->version() : 0;
}

}  // namespace portier::gateway
