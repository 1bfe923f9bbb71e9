// topic_router: which device class (or ignore entry) takes a topic, as one compiled trie over
// every topic filter of a policy. No regex, no allocation per message.
//
// Precedence is decided per topic, level by level from the left: at the first level where two
// matching filters differ, a literal beats "+" or "{name}", which beats "{name...}", which
// beats "#"; a filter that ends with the topic beats a "#" that matches nothing. This is exactly
// the order in which route() walks the trie (literal child, then "+", then "{name...}" taking as
// few levels as possible, then "#"), so the first route it offers is the most specific. Routes
// of one filter shape (captures written as "+") are offered in the order they were added.
//
// Built once by the policy compiler, immutable afterwards; route() is const and reentrant.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policies/topic_filter.h"

namespace portier::policies {

struct compiled_class;
struct compiled_ignore;

struct topic_route {
  const topic_filter* filter = nullptr;
  const compiled_class* device_class = nullptr;  // exactly one of these two is set
  const compiled_ignore* ignore = nullptr;
};

class topic_router {
 public:
  // Adds a route. Routes with the same filter shape are offered in the order added, so the
  // compiler adds classes with a predicate before those without.
  void add(const topic_route& route);

  // Offers the routes that match `topic`, most specific first, to `visit(const topic_route&)`
  // until it returns true; route() then returns true. captures[i] holds the filter's capture i
  // while visit runs (views into `topic`); it must hold topic_filter::kMaxCaptures entries.
  template <typename Visit>
  bool route(std::string_view topic, std::span<std::string_view> captures, Visit&& visit) const {
    if (nodes_.empty()) return false;
    walk_state st{topic, captures, {}};
    auto offer = [&](const topic_route& r) { return visit(r); };
    return walk(0, 0, 0, st, offer_fn{&offer, [](void* f, const topic_route& r) {
                                        return (*static_cast<decltype(offer)*>(f))(r);
                                      }});
  }

  std::size_t size() const { return routes_.size(); }
  const std::vector<topic_route>& routes() const { return routes_; }

 private:
  struct node {
    std::vector<std::pair<std::string, std::uint32_t>> literals;  // sorted by text
    std::int32_t single = -1;                                     // "+" or "{name}"
    std::int32_t multi_capture = -1;                              // "{name...}"
    std::vector<std::uint32_t> at_end;                            // filters that end here
    std::vector<std::uint32_t> at_hash;                           // filters ending "/#" here
  };
  struct walk_state {
    std::string_view topic;
    std::span<std::string_view> captures;
    std::array<std::string_view, topic_filter::kMaxLevels> spans;
  };
  struct offer_fn {
    void* context;
    bool (*call)(void*, const topic_route&);
  };

  bool walk(std::uint32_t n, std::size_t pos, std::size_t depth, walk_state& st,
            offer_fn offer) const;
  bool offer_list(const std::vector<std::uint32_t>& list, walk_state& st, offer_fn offer) const;
  std::uint32_t child(std::uint32_t n, const topic_filter::level& lv);

  std::vector<node> nodes_;
  std::vector<topic_route> routes_;
};

}  // namespace portier::policies
