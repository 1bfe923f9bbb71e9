#include "policies/json_rewriter.h"

#include <bitset>
#include <cstring>
#include <new>

#include <rapidjson/allocators.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "policies/field_action.h"
#include "policies/json_text.h"

namespace portier::policies {

namespace {

constexpr unsigned kParseFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag |
                                 rapidjson::kParseIterativeFlag;
constexpr std::size_t kMaxPendingLocations = 4;
constexpr std::size_t kMaxMembers = 512;  // listed fields plus location partners, per node at most

// The reader's stack (nesting, and each string or number while it is read) lives in a buffer on
// the C++ stack, so a parse does not allocate unless a string is longer than about 3 KiB (the pool
// then takes a chunk from malloc). A plain rapidjson::Reader allocates its stack for every parse.
constexpr std::size_t kReaderBufferBytes = 4096;
using reader_pool = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;
using pooled_reader = rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, reader_pool>;

drop_reason reason_for(rapidjson::ParseErrorCode code) {
  // A lone "\ud800" is a surrogate error: a string that is no Unicode text, like invalid UTF-8.
  const bool encoding = code == rapidjson::kParseErrorStringInvalidEncoding ||
                        code == rapidjson::kParseErrorStringUnicodeSurrogateInvalid;
  return encoding ? drop_reason::invalid_utf8 : drop_reason::invalid_json;
}

// The parser validates raw bytes, but decodes an escaped lone low surrogate ("\udc00") into bytes
// that are not UTF-8 (ED B0 80). Only strings with an 0xED byte (U+D000 to U+DFFF) need a look.
// (A plain loop: keys and values are short, and memchr cost 10% of a message here.)
bool decoded_utf8(const char* s, rapidjson::SizeType n) {
  for (rapidjson::SizeType i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xED) return valid_utf8({s, n});
  }
  return true;
}

void count(drop_counts& drops, drop_reason r) { ++drops[static_cast<std::size_t>(r)]; }

// A latitude or longitude seen, waiting for its partner inside the same object.
struct pending_location {
  std::size_t depth = 0;
  int lat_field = -1;
  double lat = 0, lon = 0;
  bool has_lat = false, has_lon = false, broken = false;
};

struct output_state {
  rewrite_output* out = nullptr;
  std::size_t opened = 0;  // how many of the open input containers this output has written
  std::array<bool, kMaxJsonDepth + 1> need_comma{};
  std::array<pending_location, kMaxPendingLocations> locations{};
  std::size_t location_count = 0;
};

struct frame {
  const field_node* node = nullptr;
  bool is_array = false;
  const field_node* pending = nullptr;  // the member whose value comes next
  std::bitset<kMaxMembers> seen;        // listed members already read: a second one is ambiguous
};

class rewrite_handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, rewrite_handler> {
 public:
  rewrite_handler(const compiled_class& c, std::span<output_state> outputs, pseudonymiser& names,
                  std::size_t max_depth, drop_counts& drops, std::string& scratch)
      : class_(c), outputs_(outputs), names_(names), max_depth_(max_depth), drops_(drops), scratch_(scratch) {}

  std::optional<drop_reason> failure() const { return failure_; }

  // False when the payload has no "\u" escape: then no string can decode to a lone surrogate.
  bool unicode_escapes = true;

  bool Null() { return scalar(value_type::null, "null"); }
  bool Bool(bool b) { return scalar(value_type::boolean, b ? "true" : "false"); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return scalar(value_type::number, {s, n}); }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (unicode_escapes && !decoded_utf8(s, n)) return fail(drop_reason::invalid_utf8);
    return scalar(value_type::string, {s, n});
  }
  bool StartObject() { return start(false); }
  bool StartArray() { return start(true); }
  bool EndObject(rapidjson::SizeType) { return end(); }
  bool EndArray(rapidjson::SizeType) { return end(); }

  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (unicode_escapes && !decoded_utf8(s, n)) return fail(drop_reason::invalid_utf8);
    if (skip_ > 0) return true;
    frame& f = frames_[depth_ - 1];
    f.pending = f.node->member({s, n});
    if (f.pending != nullptr) {
      if (f.seen.test(f.pending->member_index)) return fail(drop_reason::duplicate_key);
      f.seen.set(f.pending->member_index);
    }
    return true;
  }

 private:
  bool fail(drop_reason r) {
    failure_ = r;
    return false;
  }

  // The field-tree node of the value about to be read, or null if it is not listed.
  const field_node* value_node() const {
    if (depth_ == 0) return &class_.root;
    const frame& f = frames_[depth_ - 1];
    return f.is_array ? f.node->each.get() : f.pending;
  }

  void count_all(drop_reason r) {
    for (auto& o : outputs_) {
      (void)o;
      count(drops_, r);
    }
  }

  void count_unfit(const field_node& n) {
    for (auto& o : outputs_) {
      const bool has_action = n.is_leaf() && class_.fields[n.field].actions[o.out->purpose].kind != action_kind::none &&
                              class_.fields[n.field].actions[o.out->purpose].kind != action_kind::drop;
      count(drops_, !n.is_leaf() || has_action ? drop_reason::type_mismatch : drop_reason::policy_drop);
    }
  }

  bool start(bool is_array) {
    if (++level_ > max_depth_) return fail(drop_reason::too_deep);
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    const field_node* n = value_node();
    if (n == nullptr || n->watched) {
      count_all(drop_reason::unlisted_field);
      skip_ = 1;
      return true;
    }
    const bool fits = !n->is_leaf() && (is_array ? n->each != nullptr : !n->members.empty());
    if (!fits) {
      count_unfit(*n);
      skip_ = 1;
      return true;
    }
    frame& f = *new (&frames_[depth_++]) frame{};
    f.node = n;
    f.is_array = is_array;
    return true;
  }

  bool end() {
    --level_;
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    const bool is_array = frames_[depth_ - 1].is_array;
    for (auto& o : outputs_) {
      for (std::size_t i = 0; i < o.location_count; ++i) {
        if (o.locations[i].depth == depth_ && !o.locations[i].broken) count(drops_, drop_reason::incomplete_location);
      }
      std::size_t kept = 0;
      for (std::size_t i = 0; i < o.location_count; ++i) {
        if (o.locations[i].depth != depth_) o.locations[kept++] = o.locations[i];
      }
      o.location_count = kept;
      if (o.opened == depth_) {
        *o.out->payload += is_array ? ']' : '}';
        o.opened = depth_ - 1;
      }
    }
    --depth_;
    return true;
  }

  // Writes what precedes a value in `o`: unwritten enclosing containers, a comma, the key.
  void begin_value(output_state& o, std::string_view key) {
    std::string& out = *o.out->payload;
    for (std::size_t i = o.opened; i < depth_; ++i) {
      if (i > 0) {
        if (o.need_comma[i - 1]) out += ',';
        o.need_comma[i - 1] = true;
        if (!frames_[i - 1].is_array) {
          append_json_string(out, frames_[i].node->key);
          out += ':';
        }
      }
      out += frames_[i].is_array ? '[' : '{';
      o.need_comma[i] = false;
    }
    o.opened = depth_;
    if (depth_ == 0) return;
    if (o.need_comma[depth_ - 1]) out += ',';
    o.need_comma[depth_ - 1] = true;
    if (!frames_[depth_ - 1].is_array) {
      append_json_string(out, key);
      out += ':';
    }
  }

  static void append_value(std::string& out, value_type type, std::string_view text) {
    if (type == value_type::string) {
      append_json_string(out, text);
    } else {
      out.append(text);
    }
  }

  bool scalar(value_type type, std::string_view text) {
    if (skip_ > 0) return true;
    const field_node* n = value_node();
    if (n == nullptr || n->watched) {
      count_all(drop_reason::unlisted_field);
      return true;
    }
    if (!n->is_leaf()) {
      count_unfit(*n);
      return true;
    }
    for (auto& o : outputs_) apply(o, *n, type, text);
    return true;
  }

  void released(output_state& o, int field) { o.out->fields->push_back(static_cast<std::uint16_t>(field)); }

  void apply(output_state& o, const field_node& n, value_type type, std::string_view text) {
    const field_action& a = class_.fields[n.field].actions[o.out->purpose];
    std::string& out = *o.out->payload;
    switch (a.kind) {
      case action_kind::none:
      case action_kind::drop:
        count(drops_, drop_reason::policy_drop);
        return;
      case action_kind::keep:
        if (!keep_fits(a, type, text)) break;
        begin_value(o, n.key);
        append_value(out, type, text);
        released(o, n.field);
        return;
      case action_kind::pseudonymise:
        if (type != value_type::string && type != value_type::number) break;
        begin_value(o, n.key);
        append_json_string(out, names_.pseudonym(o.out->purpose, text, a.length));
        released(o, n.field);
        return;
      case action_kind::round:
        if (type != value_type::number || !apply_round(a, text, scratch_)) break;
        begin_value(o, n.key);
        out += scratch_;
        released(o, n.field);
        return;
      case action_kind::bucket: {
        const std::string* label = nullptr;
        if (type != value_type::number || !apply_bucket(a, text, &label)) break;
        begin_value(o, n.key);
        append_json_string(out, *label);
        released(o, n.field);
        return;
      }
      case action_kind::coarsen_time: {
        bool is_number = false;
        const time_result r = apply_coarsen_time(a, type, text, scratch_, is_number);
        if (r == time_result::implausible) {
          count(drops_, drop_reason::implausible_time);
          return;
        }
        if (r != time_result::coarsened) break;
        begin_value(o, n.key);
        append_value(out, is_number ? value_type::number : value_type::string, scratch_);
        released(o, n.field);
        return;
      }
      case action_kind::truncate:
        if (type != value_type::string) break;
        begin_value(o, n.key);
        append_json_string(out, truncate_utf8(text, a.length));
        released(o, n.field);
        return;
      case action_kind::generalise_location:
      case action_kind::location_longitude:
        location(o, n, a, type, text);
        return;
      case action_kind::aggregate: {
        double v = 0;
        if (o.out->samples == nullptr) {
          count(drops_, drop_reason::policy_drop);
          return;
        }
        if (type != value_type::number || !parse_number(text, v)) break;
        o.out->samples->push_back({static_cast<std::uint16_t>(n.field), v});
        released(o, n.field);
        return;
      }
    }
    count(drops_, drop_reason::type_mismatch);
  }

  void location(output_state& o, const field_node& n, const field_action& a, value_type type, std::string_view text) {
    const bool is_lat = a.kind == action_kind::generalise_location;
    const int lat_field = is_lat ? n.field : a.partner_field;
    pending_location* p = nullptr;
    for (std::size_t i = 0; i < o.location_count; ++i) {
      if (o.locations[i].depth == depth_ && o.locations[i].lat_field == lat_field) p = &o.locations[i];
    }
    if (p == nullptr) {
      if (o.location_count == kMaxPendingLocations) {
        count(drops_, drop_reason::incomplete_location);
        return;
      }
      p = &o.locations[o.location_count++];
      *p = pending_location{};
      p->depth = depth_;
      p->lat_field = lat_field;
    }
    double v = 0;
    if (type != value_type::number || !parse_number(text, v)) {
      if (!p->broken) count(drops_, drop_reason::type_mismatch);
      p->broken = true;
      return;
    }
    (is_lat ? p->lat : p->lon) = v;
    (is_lat ? p->has_lat : p->has_lon) = true;
    if (!p->has_lat || !p->has_lon || p->broken) return;
    p->broken = true;  // resolved: nothing more to report at the end of the object
    const compiled_field& lat = class_.fields[lat_field];
    const field_action& la = lat.actions[o.out->purpose];
    const compiled_field& lon = class_.fields[la.partner_field];
    double cell_lat = 0, cell_lon = 0;
    if (!generalise_location(la.cell_km, p->lat, p->lon, cell_lat, cell_lon)) {
      count(drops_, drop_reason::incomplete_location);
      return;
    }
    std::string& out = *o.out->payload;
    begin_value(o, lat.steps.back().key);
    append_fixed(out, cell_lat, 4);
    begin_value(o, lon.steps.back().key);
    append_fixed(out, cell_lon, 4);
    released(o, lat_field);
    released(o, la.partner_field);
  }

  const compiled_class& class_;
  std::span<output_state> outputs_;
  pseudonymiser& names_;
  const std::size_t max_depth_;
  drop_counts& drops_;
  std::string& scratch_;
  // A frame is constructed when its container opens (start): constructing all of them with the
  // handler, once per message, cost more than the containers of a typical message.
  union frame_slots {
    frame_slots() {}
    frame at[kMaxJsonDepth];
  } frame_slots_;
  frame* const frames_ = frame_slots_.at;
  std::size_t depth_ = 0;  // open containers that are followed (listed)
  std::size_t level_ = 0;  // open containers in the document, followed or skipped
  std::size_t skip_ = 0;   // > 0 while inside a container that is not followed
  std::optional<drop_reason> failure_;
};

// Reads a payload for a predicate: whether its member at the path is `equals`. It stops at the
// first copy of the member, unless `whole`: then it reads to the end and tells whether the
// member, or a member on the way to it, is given twice.
class predicate_handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, predicate_handler> {
 public:
  predicate_handler(const compiled_predicate& p, std::size_t max_depth, bool whole)
      : p_(p), max_depth_(max_depth), whole_(whole) {}

  bool found() const { return found_; }
  bool matches() const { return matches_; }
  bool too_deep() const { return too_deep_; }
  bool duplicate() const { return duplicate_; }

  bool Null() { return scalar("null"); }
  bool Bool(bool b) { return scalar(b ? "true" : "false"); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return scalar({s, n}); }
  bool String(const char* s, rapidjson::SizeType n, bool) { return scalar({s, n}); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    hit_ = level_ == matched_ + 1 && std::string_view(s, n) == p_.steps[matched_].key;
    if (hit_ && whole_) {
      if (seen_[matched_]) {
        duplicate_ = true;
        return false;
      }
      seen_[matched_] = true;
    }
    return true;
  }
  bool StartObject() {
    if (++level_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    if (hit_ && matched_ + 1 < p_.steps.size()) seen_[++matched_] = false;
    hit_ = false;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    if (matched_ > 0 && level_ == matched_ + 1) --matched_;
    --level_;
    return true;
  }
  bool StartArray() {
    hit_ = false;
    if (++level_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --level_;
    return true;
  }

 private:
  bool scalar(std::string_view text) {
    if (hit_ && matched_ + 1 == p_.steps.size()) {
      found_ = true;
      matches_ = text == p_.equals;
      hit_ = false;
      return whole_;  // decided: stop reading, unless looking for a second copy
    }
    hit_ = false;
    return true;
  }

  const compiled_predicate& p_;
  const std::size_t max_depth_;
  const bool whole_;
  std::size_t level_ = 0, matched_ = 0;
  std::array<bool, kMaxJsonDepth + 1> seen_{};  // whole: step i's member read in its object
  bool hit_ = false, found_ = false, matches_ = false, too_deep_ = false, duplicate_ = false;
};

}  // namespace

std::optional<drop_reason> json_rewriter::rewrite(const compiled_class& c, std::string_view payload,
                                                  std::span<rewrite_output> outputs, pseudonymiser& names,
                                                  std::size_t max_depth, drop_counts& drops) {
  // Only the states in use are constructed: initialising all 64 cost about as much as the parse.
  union state_slots {
    state_slots() {}
    output_state at[64];
  } states;
  const std::size_t n = std::min(outputs.size(), std::size(states.at));
  for (std::size_t i = 0; i < n; ++i) {
    new (&states.at[i]) output_state{};
    states.at[i].out = &outputs[i];
    outputs[i].payload->clear();
    outputs[i].fields->clear();
    if (outputs[i].samples != nullptr) outputs[i].samples->clear();
  }
  drop_counts field_drops{};
  rewrite_handler handler(c, std::span(states.at, n), names, std::min(max_depth, kMaxJsonDepth), field_drops,
                          scratch_);
  handler.unicode_escapes = payload.find("\\u") != std::string_view::npos;
  rapidjson::MemoryStream stream(payload.data(), payload.size());
  alignas(std::max_align_t) char reader_buffer[kReaderBufferBytes];
  reader_pool pool(reader_buffer, sizeof reader_buffer);
  pooled_reader reader(&pool);
  const rapidjson::ParseResult r = reader.Parse<kParseFlags>(stream, handler);
  if (r.IsError()) {
    for (std::size_t i = 0; i < n; ++i) {
      outputs[i].payload->clear();
      outputs[i].fields->clear();
      if (outputs[i].samples != nullptr) outputs[i].samples->clear();
    }
    return handler.failure() ? *handler.failure() : reason_for(r.Code());
  }
  for (std::size_t i = 0; i < kDropReasonCount; ++i) drops[i] += field_drops[i];
  return std::nullopt;
}

std::optional<drop_reason> json_rewriter::test_predicate(const compiled_predicate& p, std::string_view payload,
                                                         std::size_t max_depth, bool& matches) {
  predicate_handler handler(p, std::min(max_depth, kMaxJsonDepth), false);
  rapidjson::MemoryStream stream(payload.data(), payload.size());
  alignas(std::max_align_t) char reader_buffer[kReaderBufferBytes];
  reader_pool pool(reader_buffer, sizeof reader_buffer);
  pooled_reader reader(&pool);
  const rapidjson::ParseResult r = reader.Parse<kParseFlags>(stream, handler);
  matches = handler.matches();
  if (handler.found()) return std::nullopt;
  if (handler.too_deep()) return drop_reason::too_deep;
  if (r.IsError()) return reason_for(r.Code());
  return std::nullopt;
}

bool json_rewriter::predicate_path_twice(const compiled_predicate& p, std::string_view payload,
                                         std::size_t max_depth) {
  predicate_handler handler(p, std::min(max_depth, kMaxJsonDepth), true);
  rapidjson::MemoryStream stream(payload.data(), payload.size());
  alignas(std::max_align_t) char reader_buffer[kReaderBufferBytes];
  reader_pool pool(reader_buffer, sizeof reader_buffer);
  pooled_reader reader(&pool);
  reader.Parse<kParseFlags>(stream, handler);
  return handler.duplicate();
}

}  // namespace portier::policies
