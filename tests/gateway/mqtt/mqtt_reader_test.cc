#include "gateway/mqtt/mqtt_reader.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <CppUTest/TestHarness.h>

using portier::gateway::mqtt_reader;
namespace wire = portier::gateway::mqtt_wire;

namespace {

// The longest PUBLISH variable header: topic length, a 65535-byte topic, packet id.
constexpr std::size_t kLongestPublishHeader = 2 + 65535 + 2;

// The most memory a reader may hold (mqtt_reader.h): one whole packet up to the longest header,
// max_payload_bytes + 1 of payload and a five-byte fixed header, or a read chunk.
std::size_t memory_bound(std::size_t max_payload_bytes) {
  return std::max(mqtt_reader::kReadChunk, 5 + kLongestPublishHeader + max_payload_bytes + 1);
}

std::string packet(int first, std::string_view body) {
  std::string out(1, static_cast<char>(first));
  std::size_t n = body.size();
  do {
    auto digit = static_cast<char>(n % 128);
    n /= 128;
    if (n > 0) digit = static_cast<char>(digit | 0x80);
    out.push_back(digit);
  } while (n > 0);
  out += body;
  return out;
}

std::string be16(std::size_t v) {
  return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

std::string publish_body(std::string_view topic, int qos, std::uint16_t id,
                         std::string_view payload) {
  std::string b = be16(topic.size());
  b += topic;
  if (qos > 0) b += be16(id);
  b += payload;
  return b;
}

// flags: DUP 0x8, QoS << 1, RETAIN 0x1.
std::string publish(int flags, std::string_view topic, std::uint16_t id, std::string_view payload) {
  return packet(0x30 | flags, publish_body(topic, (flags >> 1) & 3, id, payload));
}

struct seen {
  wire::packet_type type;
  std::uint8_t flags;
  std::string body;
  bool operator==(const seen&) const = default;
};

seen expect(wire::packet_type type, int flags, std::string body) {
  return {type, static_cast<std::uint8_t>(flags), std::move(body)};
}

struct fed {
  std::vector<seen> packets;
  mqtt_reader::status last = mqtt_reader::status::drained;
  std::size_t most_memory = 0;  // the largest buffered() + space() seen
};

// Feeds `stream` into `r` in reads of next_chunk() bytes (or less when space() is smaller),
// draining after each, until it is all in or the reader reports malformed.
void feed(mqtt_reader& r, std::string_view stream, const std::function<std::size_t()>& next_chunk,
          fed& out) {
  std::size_t pos = 0;
  while (pos < stream.size() && out.last != mqtt_reader::status::malformed) {
    const auto room = r.space();
    CHECK(!room.empty());
    out.most_memory = std::max(out.most_memory, r.buffered() + room.size());
    const std::size_t n = std::min({next_chunk(), room.size(), stream.size() - pos});
    std::memcpy(room.data(), stream.data() + pos, n);
    r.commit(n);
    pos += n;
    out.last = r.drain([&](const wire::packet& p) {
      out.packets.push_back({p.type, p.flags, std::string(p.body)});
      return true;
    });
  }
}

fed feed_all(std::size_t max_payload_bytes, std::string_view stream,
             const std::function<std::size_t()>& next_chunk) {
  mqtt_reader r(max_payload_bytes);
  fed out;
  feed(r, stream, next_chunk, out);
  return out;
}

const auto at_once = [] { return std::string::npos; };
const auto byte_by_byte = [] { return std::size_t{1}; };

std::function<std::size_t()> random_chunks(unsigned seed, std::size_t most) {
  auto rng = std::make_shared<std::mt19937>(seed);
  return [rng, most] { return std::uniform_int_distribution<std::size_t>(1, most)(*rng); };
}

void check_same(const std::vector<seen>& expected, const std::vector<seen>& got) {
  UNSIGNED_LONGS_EQUAL(expected.size(), got.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    LONGS_EQUAL(static_cast<int>(expected[i].type), static_cast<int>(got[i].type));
    UNSIGNED_LONGS_EQUAL(expected[i].flags, got[i].flags);
    UNSIGNED_LONGS_EQUAL(expected[i].body.size(), got[i].body.size());
    CHECK_TRUE(expected[i].body == got[i].body);
  }
}

wire::publish_view parsed_publish(const seen& s) {
  wire::publish_view v;
  CHECK_TRUE(wire::parse_publish(wire::packet{s.type, s.flags, s.body}, v));
  return v;
}

}  // namespace

TEST_GROUP(mqtt_reader){};

TEST(mqtt_reader, packets_come_out_the_same_fed_at_once_byte_by_byte_or_in_random_chunks) {
  const std::string payload(300, 'p');
  const std::string stream = packet(0x20, std::string("\x01\x00", 2)) +  // CONNACK, session present
                             packet(0x90, std::string("\x00\x01\x01\x80", 4)) +  // SUBACK
                             publish(0x01, "home/a", 0, "{\"t\":21}") +          // QoS 0, retained
                             publish(0x0a, "home/b", 513, "x") +                 // QoS 1, DUP
                             publish(0x04, "home/c", 65535, "") +        // QoS 2, empty payload
                             packet(0x62, std::string("\x02\x01", 2)) +  // PUBREL
                             packet(0xd0, "") +                          // PINGRESP
                             packet(0xb0, std::string("\x00\x02", 2)) +  // UNSUBACK
                             publish(0x02, std::string(200, 'l'), 7, payload);  // two length bytes
  const std::vector<seen> expected = {
      expect(wire::packet_type::connack, 0, std::string("\x01\x00", 2)),
      expect(wire::packet_type::suback, 0, std::string("\x00\x01\x01\x80", 4)),
      expect(wire::packet_type::publish, 0x01, publish_body("home/a", 0, 0, "{\"t\":21}")),
      expect(wire::packet_type::publish, 0x0a, publish_body("home/b", 1, 513, "x")),
      expect(wire::packet_type::publish, 0x04, publish_body("home/c", 2, 65535, "")),
      expect(wire::packet_type::pubrel, 0x02, std::string("\x02\x01", 2)),
      expect(wire::packet_type::pingresp, 0, ""),
      expect(wire::packet_type::unsuback, 0, std::string("\x00\x02", 2)),
      expect(wire::packet_type::publish, 0x02, publish_body(std::string(200, 'l'), 1, 7, payload)),
  };

  fed r = feed_all(1000, stream, at_once);
  check_same(expected, r.packets);
  CHECK(r.last == mqtt_reader::status::drained);

  r = feed_all(1000, stream, byte_by_byte);
  check_same(expected, r.packets);
  CHECK(r.last == mqtt_reader::status::drained);

  for (unsigned seed = 1; seed <= 20; ++seed) {
    r = feed_all(1000, stream, random_chunks(seed, 40));
    check_same(expected, r.packets);
    CHECK(r.last == mqtt_reader::status::drained);
  }
}

TEST(mqtt_reader, a_packet_split_across_reads_waits_for_its_last_byte) {
  const std::string p = publish(0x02, "t", 1, "payload");
  mqtt_reader r(100);
  fed out;
  feed(r, std::string_view(p).substr(0, p.size() - 1), at_once, out);
  UNSIGNED_LONGS_EQUAL(0, out.packets.size());
  UNSIGNED_LONGS_EQUAL(p.size() - 1, r.buffered());
  feed(r, std::string_view(p).substr(p.size() - 1), at_once, out);
  UNSIGNED_LONGS_EQUAL(1, out.packets.size());
  STRCMP_EQUAL("payload", std::string(parsed_publish(out.packets[0]).payload).c_str());
  UNSIGNED_LONGS_EQUAL(0, r.buffered());
}

TEST(mqtt_reader, drain_stops_at_a_refused_packet_and_hands_it_first_next_time) {
  const std::string stream =
      publish(0x00, "a", 0, "1") + publish(0x02, "b", 2, "2") + publish(0x00, "c", 0, "3");
  mqtt_reader r(100);
  const auto room = r.space();
  std::memcpy(room.data(), stream.data(), stream.size());
  r.commit(stream.size());

  std::vector<std::string> topics;
  const auto st = r.drain([&](const wire::packet& p) {
    wire::publish_view v;
    CHECK_TRUE(wire::parse_publish(p, v));
    if (v.topic == "b") return false;
    topics.emplace_back(v.topic);
    return true;
  });
  CHECK(st == mqtt_reader::status::stopped);
  UNSIGNED_LONGS_EQUAL(1, topics.size());
  UNSIGNED_LONGS_EQUAL(stream.size() - publish(0x00, "a", 0, "1").size(), r.buffered());

  r.space();  // may move what is buffered; the refused packet must survive that
  const auto st2 = r.drain([&](const wire::packet& p) {
    wire::publish_view v;
    CHECK_TRUE(wire::parse_publish(p, v));
    topics.emplace_back(v.topic);
    return true;
  });
  CHECK(st2 == mqtt_reader::status::drained);
  CHECK(topics == (std::vector<std::string>{"a", "b", "c"}));
  UNSIGNED_LONGS_EQUAL(0, r.buffered());
}

// 10,000 bytes of payload fit within max_payload_bytes + 1 plus the longest header: the reader
// buffers it whole (bounded) and the consumer drops it as too large.
TEST(mqtt_reader, a_publish_over_the_limit_by_less_than_a_header_is_handed_whole) {
  const std::string payload(10'000, 'z');
  const std::string stream = publish(0x02, "home/big", 77, payload) + packet(0xd0, "");
  const fed r = feed_all(100, stream, random_chunks(3, 3000));
  UNSIGNED_LONGS_EQUAL(2, r.packets.size());
  UNSIGNED_LONGS_EQUAL(payload.size(), parsed_publish(r.packets[0]).payload.size());
  CHECK(r.packets[1].type == wire::packet_type::pingresp);
  CHECK(r.most_memory <= memory_bound(100));
}

TEST(mqtt_reader, an_oversized_publish_is_handed_once_as_its_head_and_the_rest_is_skipped) {
  std::string payload(200'000, 'z');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  const std::string stream = publish(0x0b, "home/big", 77, payload) +
                             publish(0x02, "home/after", 78, "small") + packet(0xd0, "");
  const std::function<std::size_t()> patterns[] = {at_once, byte_by_byte, random_chunks(5, 70'000),
                                                   random_chunks(6, 100)};
  for (const auto& chunks : patterns) {
    const fed r = feed_all(100, stream, chunks);
    CHECK(r.last == mqtt_reader::status::drained);
    UNSIGNED_LONGS_EQUAL(3, r.packets.size());
    CHECK(r.packets[0].type == wire::packet_type::publish);
    UNSIGNED_LONGS_EQUAL(0x0b, r.packets[0].flags);
    const wire::publish_view big = parsed_publish(r.packets[0]);
    STRCMP_EQUAL("home/big", std::string(big.topic).c_str());
    UNSIGNED_LONGS_EQUAL(77, big.packet_id);
    CHECK_TRUE(big.dup);
    CHECK_TRUE(big.retain);
    UNSIGNED_LONGS_EQUAL(101, big.payload.size());
    CHECK_TRUE(big.payload == std::string_view(payload).substr(0, 101));

    const wire::publish_view after = parsed_publish(r.packets[1]);
    STRCMP_EQUAL("home/after", std::string(after.topic).c_str());
    UNSIGNED_LONGS_EQUAL(78, after.packet_id);
    STRCMP_EQUAL("small", std::string(after.payload).c_str());
    CHECK(r.packets[2].type == wire::packet_type::pingresp);
    CHECK(r.most_memory <= memory_bound(100));
  }
}

TEST(mqtt_reader, the_cut_starts_one_byte_past_the_limit_plus_the_topic_length_the_packet_has) {
  // max 100 and topic "t" at QoS 0: a body of 2 + 65535 + 2 + 101 bytes is the most kept whole.
  const std::size_t whole = kLongestPublishHeader + 101 - 3;
  const std::string stream = publish(0x00, "t", 0, std::string(whole, 'w')) +
                             publish(0x00, "t", 0, std::string(whole + 1, 'c'));
  const fed r = feed_all(100, stream, random_chunks(7, 5000));
  UNSIGNED_LONGS_EQUAL(2, r.packets.size());
  UNSIGNED_LONGS_EQUAL(whole, parsed_publish(r.packets[0]).payload.size());
  UNSIGNED_LONGS_EQUAL(101, parsed_publish(r.packets[1]).payload.size());
  CHECK(r.most_memory <= memory_bound(100));
}

TEST(mqtt_reader, a_refused_oversized_publish_is_handed_again_and_then_skipped) {
  const std::string stream =
      publish(0x02, "big", 9, std::string(100'000, 'b')) + publish(0x00, "next", 0, "n");
  mqtt_reader r(10);
  std::size_t pos = 0;
  std::vector<std::string> got;
  bool refused = false;
  while (pos < stream.size()) {
    const auto room = r.space();
    const std::size_t n = std::min(room.size(), stream.size() - pos);
    std::memcpy(room.data(), stream.data() + pos, n);
    r.commit(n);
    pos += n;
    const auto take = [&](const wire::packet& p) {
      if (!refused) {
        refused = true;
        return false;
      }
      wire::publish_view v;
      CHECK_TRUE(wire::parse_publish(p, v));
      got.push_back(std::string(v.topic) + ":" + std::to_string(v.payload.size()));
      return true;
    };
    if (r.drain(take) == mqtt_reader::status::stopped) {
      r.space();
      CHECK(r.drain(take) == mqtt_reader::status::drained);
    }
  }
  CHECK_TRUE(refused);
  CHECK(got == (std::vector<std::string>{"big:11", "next:1"}));
}

TEST(mqtt_reader, an_oversized_suback_is_malformed_as_soon_as_its_length_is_known) {
  mqtt_reader r(100);
  fed out;
  feed(r, std::string("\x90\xa0\x8d\x06", 4), at_once, out);  // remaining length 100,000
  CHECK(out.last == mqtt_reader::status::malformed);
  STRCMP_EQUAL("a packet longer than any the subscriber accepts", r.error());
}

TEST(mqtt_reader, an_oversized_publish_with_qos_3_is_malformed) {
  const std::string stream = packet(0x36, publish_body("t", 2, 1, std::string(100'000, 'x')));
  const fed r = feed_all(100, stream, random_chunks(8, 9000));
  UNSIGNED_LONGS_EQUAL(0, r.packets.size());
  CHECK(r.last == mqtt_reader::status::malformed);
  CHECK(r.most_memory <= memory_bound(100));
}

TEST(mqtt_reader, packets_before_a_reserved_type_arrive_then_the_stream_is_malformed) {
  mqtt_reader r(100);
  fed out;
  feed(r, packet(0xd0, "") + std::string("\xf0\x00", 2) + packet(0xd0, ""), at_once, out);
  UNSIGNED_LONGS_EQUAL(1, out.packets.size());
  CHECK(out.last == mqtt_reader::status::malformed);
  STRCMP_EQUAL("not an MQTT packet", r.error());
}

TEST(mqtt_reader, reset_forgets_a_partial_packet) {
  const std::string p = publish(0x02, "t", 1, "payload");
  mqtt_reader r(100);
  fed out;
  feed(r, std::string_view(p).substr(0, 5), at_once, out);
  UNSIGNED_LONGS_EQUAL(5, r.buffered());
  r.reset();
  UNSIGNED_LONGS_EQUAL(0, r.buffered());
  feed(r, p, byte_by_byte, out);
  UNSIGNED_LONGS_EQUAL(1, out.packets.size());
  STRCMP_EQUAL("payload", std::string(parsed_publish(out.packets[0]).payload).c_str());
}

TEST(mqtt_reader, reset_forgets_the_rest_of_an_oversized_publish_still_to_skip) {
  const std::string big = publish(0x00, "t", 0, std::string(100'000, 'x'));
  mqtt_reader r(10);
  fed out;
  feed(r, std::string_view(big).substr(0, 1000), at_once, out);
  UNSIGNED_LONGS_EQUAL(1, out.packets.size());  // the head
  r.reset();
  feed(r, packet(0xd0, ""), at_once, out);
  UNSIGNED_LONGS_EQUAL(2, out.packets.size());
  CHECK(out.packets[1].type == wire::packet_type::pingresp);
}

TEST(mqtt_reader, space_offers_at_least_half_a_read_chunk_when_no_packet_waits) {
  mqtt_reader r(100);
  CHECK(r.space().size() >= mqtt_reader::kReadChunk / 2);
  fed out;
  for (int i = 0; i < 1000; ++i) {
    feed(r, publish(0x00, "t", 0, std::string(97, 'x')), at_once, out);
    CHECK(r.space().size() >= mqtt_reader::kReadChunk / 2);
  }
  UNSIGNED_LONGS_EQUAL(1000, out.packets.size());
}

// A consumer that refuses a packet while the buffer is full and then asks for space makes the
// reader grow (space() is never empty). A packet too long to buffer may then arrive whole: the
// rules for oversized packets must not depend on that.
TEST(mqtt_reader, oversized_packets_follow_the_same_rule_when_they_arrive_whole) {
  const std::string big_publish = publish(0x02, "big", 5, std::string(70'000, 'b'));
  const std::string big_suback = packet(0x90, std::string(70'000, '\0'));
  for (const std::string* big : {&big_publish, &big_suback}) {
    mqtt_reader r(0);
    std::string pings;
    for (std::size_t i = 0; i < mqtt_reader::kReadChunk / 2; ++i) pings += packet(0xd0, "");
    auto room = r.space();
    UNSIGNED_LONGS_EQUAL(pings.size(), room.size());
    std::memcpy(room.data(), pings.data(), pings.size());
    r.commit(pings.size());
    CHECK(r.drain([](const wire::packet&) { return false; }) == mqtt_reader::status::stopped);
    r.space();
    CHECK(r.drain([](const wire::packet&) { return true; }) == mqtt_reader::status::drained);

    room = r.space();
    CHECK(room.size() >= big->size());
    std::memcpy(room.data(), big->data(), big->size());
    r.commit(big->size());
    std::vector<seen> got;
    const auto st = r.drain([&](const wire::packet& p) {
      got.push_back({p.type, p.flags, std::string(p.body)});
      return true;
    });
    if (big == &big_suback) {
      CHECK(st == mqtt_reader::status::malformed);
      UNSIGNED_LONGS_EQUAL(0, got.size());
    } else {
      CHECK(st == mqtt_reader::status::drained);
      UNSIGNED_LONGS_EQUAL(1, got.size());
      UNSIGNED_LONGS_EQUAL(1, parsed_publish(got[0]).payload.size());
      UNSIGNED_LONGS_EQUAL(0, r.buffered());
    }
  }
}
