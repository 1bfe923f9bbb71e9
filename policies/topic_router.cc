#include "policies/topic_router.h"

#include <algorithm>

namespace portier::policies {

namespace {
constexpr std::size_t kDone = std::string_view::npos;  // every level of the topic is consumed
}

std::uint32_t topic_router::child(std::uint32_t n, const topic_filter::level& lv) {
  using kind = topic_filter::level_kind;
  auto make = [this]() {
    nodes_.emplace_back();
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  };
  switch (lv.kind) {
    case kind::literal: {
      auto& lits = nodes_[n].literals;
      auto it = std::lower_bound(lits.begin(), lits.end(), lv.text,
                                 [](const auto& e, const std::string& t) { return e.first < t; });
      if (it != lits.end() && it->first == lv.text) return it->second;
      const std::size_t at = static_cast<std::size_t>(it - lits.begin());
      const std::uint32_t c = make();
      auto& lits2 = nodes_[n].literals;  // make() may have moved the nodes
      lits2.insert(lits2.begin() + static_cast<std::ptrdiff_t>(at), {lv.text, c});
      return c;
    }
    case kind::single:
    case kind::capture:
      if (nodes_[n].single < 0) {
        const std::uint32_t c = make();
        nodes_[n].single = static_cast<std::int32_t>(c);
      }
      return static_cast<std::uint32_t>(nodes_[n].single);
    case kind::multi_capture:
      if (nodes_[n].multi_capture < 0) {
        const std::uint32_t c = make();
        nodes_[n].multi_capture = static_cast<std::int32_t>(c);
      }
      return static_cast<std::uint32_t>(nodes_[n].multi_capture);
    case kind::multi:
      break;
  }
  return n;
}

void topic_router::add(const topic_route& route) {
  if (nodes_.empty()) nodes_.emplace_back();
  const auto index = static_cast<std::uint32_t>(routes_.size());
  routes_.push_back(route);
  std::uint32_t n = 0;
  for (const auto& lv : route.filter->levels()) {
    if (lv.kind == topic_filter::level_kind::multi) {
      nodes_[n].at_hash.push_back(index);
      return;
    }
    n = child(n, lv);
  }
  nodes_[n].at_end.push_back(index);
}

bool topic_router::offer_list(const std::vector<std::uint32_t>& list, walk_state& st,
                              offer_fn offer) const {
  for (std::uint32_t i : list) {
    const topic_route& r = routes_[i];
    const auto& levels = r.filter->capture_levels();
    bool usable = true;
    for (std::size_t c = 0; c < levels.size(); ++c) {
      st.captures[c] = st.spans[levels[c]];
      if (st.captures[c].empty()) usable = false;  // "{name}" on an empty level identifies nothing
    }
    if (usable && offer.call(offer.context, r)) return true;
  }
  return false;
}

bool topic_router::walk(std::uint32_t n, std::size_t pos, std::size_t depth, walk_state& st,
                        offer_fn offer) const {
  const node& nd = nodes_[n];
  const std::string_view topic = st.topic;
  if (pos == kDone) return offer_list(nd.at_end, st, offer) || offer_list(nd.at_hash, st, offer);
  if (depth == topic_filter::kMaxLevels) return false;  // deeper than any filter reaches
  const std::size_t slash = topic.find('/', pos);
  const std::size_t end = slash == std::string_view::npos ? topic.size() : slash;
  const std::size_t next = slash == std::string_view::npos ? kDone : slash + 1;
  const std::string_view level = topic.substr(pos, end - pos);
  if (!nd.literals.empty()) {
    auto it = std::lower_bound(
        nd.literals.begin(), nd.literals.end(), level,
        [](const auto& e, std::string_view t) { return std::string_view(e.first) < t; });
    if (it != nd.literals.end() && it->first == level) {
      st.spans[depth] = level;
      if (walk(it->second, next, depth + 1, st, offer)) return true;
    }
  }
  // MQTT: wildcards in the first level do not match topics that start with '$'.
  if (depth == 0 && !topic.empty() && topic[0] == '$') return false;
  if (nd.single >= 0) {
    st.spans[depth] = level;
    if (walk(static_cast<std::uint32_t>(nd.single), next, depth + 1, st, offer)) return true;
  }
  if (nd.multi_capture >= 0 && !level.empty()) {
    // As few levels as the rest allows: every further level taken is a less specific match.
    std::size_t span_end = end;
    std::size_t after = next;
    while (true) {
      st.spans[depth] = topic.substr(pos, span_end - pos);
      if (walk(static_cast<std::uint32_t>(nd.multi_capture), after, depth + 1, st, offer))
        return true;
      if (after == kDone) break;
      const std::size_t s = topic.find('/', after);
      const std::size_t e = s == std::string_view::npos ? topic.size() : s;
      if (e == after) break;  // an empty level names nothing
      span_end = e;
      after = s == std::string_view::npos ? kDone : s + 1;
    }
  }
  return offer_list(nd.at_hash, st, offer);
}

}  // namespace portier::policies
