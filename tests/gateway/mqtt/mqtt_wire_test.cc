#include "gateway/mqtt/mqtt_wire.h"

#include <cstdio>
#include <string>
#include <string_view>

#include <CppUTest/TestHarness.h>

using namespace portier::gateway::mqtt_wire;

namespace {

// "10 0e 00 04 4d ..." so that a wrong byte shows where it is.
std::string hex(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    char b[4];
    std::snprintf(b, sizeof b, "%02x ", static_cast<unsigned char>(c));
    out += b;
  }
  if (!out.empty()) out.pop_back();
  return out;
}

std::string bytes(std::initializer_list<int> b) {
  std::string out;
  for (const int v : b) out.push_back(static_cast<char>(v));
  return out;
}

packet framed(std::string_view wire) {
  const frame f = next_packet(wire);
  CHECK(f.status == frame_status::complete);
  return f.out;
}

// A PUBLISH body: topic, packet id (QoS > 0), payload.
std::string publish_body(std::string_view topic, int qos, std::uint16_t id,
                         std::string_view payload) {
  std::string b =
      bytes({static_cast<int>(topic.size() >> 8), static_cast<int>(topic.size() & 0xff)});
  b += topic;
  if (qos > 0) b += bytes({id >> 8, id & 0xff});
  b += payload;
  return b;
}

connect_options options(std::string_view client_id, std::string_view username,
                        std::string_view password, std::uint16_t keepalive, bool clean) {
  connect_options o;
  o.client_id = client_id;
  o.username = username;
  o.password = password;
  o.keepalive_seconds = keepalive;
  o.clean_session = clean;
  return o;
}

packet publish(std::uint8_t flags, const std::string& body) {
  return packet{packet_type::publish, flags, body};
}

}  // namespace

TEST_GROUP(mqtt_wire){};

// --- encoders ---

TEST(mqtt_wire, connect_with_client_id_only_keeps_the_session_and_sends_the_keepalive) {
  std::string out;
  encode_connect(out, options("gw", "", "", 30, false));
  STRCMP_EQUAL(
      hex(bytes({0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 30, 0, 2, 'g', 'w'})).c_str(),
      hex(out).c_str());
}

TEST(mqtt_wire, connect_with_username_and_password_sets_both_flags_in_order) {
  std::string out;
  encode_connect(out, options("c", "u", "pw", 300, true));
  STRCMP_EQUAL(hex(bytes({0x10, 20, 0, 4,   'M', 'Q', 'T', 'T', 4, 0xc2, 0x01,
                          0x2c, 0,  1, 'c', 0,   1,   'u', 0,   2, 'p',  'w'}))
                   .c_str(),
               hex(out).c_str());
}

TEST(mqtt_wire, connect_with_username_only_sets_no_password_flag) {
  std::string out;
  encode_connect(out, options("c", "u", "", 0, false));
  STRCMP_EQUAL(
      hex(bytes({0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x80, 0, 0, 0, 1, 'c', 0, 1, 'u'})).c_str(),
      hex(out).c_str());
}

// MQTT-3.1.2-22: no password flag without the user name flag; an empty user name is sent.
TEST(mqtt_wire, connect_with_a_password_but_no_username_sends_an_empty_username) {
  std::string out;
  encode_connect(out, options("c", "", "pw", 30, false));
  STRCMP_EQUAL(hex(bytes({0x10, 19, 0, 4,   'M', 'Q', 'T', 'T', 4,   0xc0, 0,
                          30,   0,  1, 'c', 0,   0,   0,   2,   'p', 'w'}))
                   .c_str(),
               hex(out).c_str());
}

TEST(mqtt_wire, subscribe_has_flags_0010_and_one_qos_byte_per_filter) {
  std::string out;
  encode_subscribe(out, 0x1234, {"a/#", "b"}, 1);
  STRCMP_EQUAL(hex(bytes({0x82, 12, 0x12, 0x34, 0, 3, 'a', '/', '#', 1, 0, 1, 'b', 1})).c_str(),
               hex(out).c_str());
}

TEST(mqtt_wire, unsubscribe_has_flags_0010_and_no_qos_bytes) {
  std::string out;
  encode_unsubscribe(out, 7, {"a/#", "b"});
  STRCMP_EQUAL(hex(bytes({0xa2, 10, 0, 7, 0, 3, 'a', '/', '#', 0, 1, 'b'})).c_str(),
               hex(out).c_str());
}

TEST(mqtt_wire, acks_carry_the_packet_id_and_only_pubrel_has_flags_0010) {
  const struct {
    packet_type type;
    int first;
  } cases[] = {{packet_type::puback, 0x40},
               {packet_type::pubrec, 0x50},
               {packet_type::pubrel, 0x62},
               {packet_type::pubcomp, 0x70}};
  for (const auto& c : cases) {
    std::string out;
    encode_ack(out, c.type, 0xbeef);
    STRCMP_EQUAL(hex(bytes({c.first, 2, 0xbe, 0xef})).c_str(), hex(out).c_str());
  }
}

TEST(mqtt_wire, pingreq_and_disconnect_are_two_bytes) {
  std::string out;
  encode_pingreq(out);
  encode_disconnect(out);
  STRCMP_EQUAL("c0 00 e0 00", hex(out).c_str());
}

TEST(mqtt_wire, encoders_append_to_what_is_already_in_the_buffer) {
  std::string out = "x";
  encode_pingreq(out);
  STRCMP_EQUAL("78 c0 00", hex(out).c_str());
}

// A SUBSCRIBE with one filter of n bytes has a remaining length of n + 5.
TEST(mqtt_wire, remaining_length_takes_one_more_byte_past_127_and_16383) {
  const struct {
    std::size_t remaining;
    const char* length_bytes;
  } cases[] = {{127, "7f"}, {128, "80 01"}, {16383, "ff 7f"}, {16384, "80 80 01"}};
  for (const auto& c : cases) {
    std::string out;
    encode_subscribe(out, 1, {std::string(c.remaining - 5, 't')}, 0);
    const std::string header_hex =
        hex(out.substr(1, (std::string_view(c.length_bytes).size() + 1) / 3));
    STRCMP_EQUAL(c.length_bytes, header_hex.c_str());
    const frame f = next_packet(out);
    CHECK(f.status == frame_status::complete);
    UNSIGNED_LONGS_EQUAL(out.size(), f.size);
    UNSIGNED_LONGS_EQUAL(c.remaining, f.out.body.size());
    UNSIGNED_LONGS_EQUAL(out.size() - c.remaining, f.header_size);
  }
}

// --- framing ---

TEST(mqtt_wire, nothing_or_a_partial_length_is_incomplete_with_unknown_size) {
  for (const std::string& b :
       {std::string(), bytes({0x30}), bytes({0x30, 0x80}), bytes({0x30, 0xff, 0xff, 0xff})}) {
    const frame f = next_packet(b);
    CHECK(f.status == frame_status::incomplete);
    UNSIGNED_LONGS_EQUAL(0, f.size);
    UNSIGNED_LONGS_EQUAL(0, f.header_size);
  }
}

TEST(mqtt_wire, a_known_length_without_the_body_is_incomplete_with_the_whole_size) {
  frame f = next_packet(bytes({0x30, 5, 0, 1}));
  CHECK(f.status == frame_status::incomplete);
  UNSIGNED_LONGS_EQUAL(2, f.header_size);
  UNSIGNED_LONGS_EQUAL(7, f.size);

  f = next_packet(bytes({0x30, 0xff, 0xff, 0xff, 0x7f}));
  CHECK(f.status == frame_status::incomplete);
  UNSIGNED_LONGS_EQUAL(5, f.header_size);
  UNSIGNED_LONGS_EQUAL(5 + kMaxRemainingLength, f.size);
}

TEST(mqtt_wire, a_complete_packet_is_framed_alone_even_with_more_bytes_behind_it) {
  const std::string wire = bytes({0x3b, 3, 'a', 'b', 'c', 0xd0, 0});
  const frame f = next_packet(wire);
  CHECK(f.status == frame_status::complete);
  UNSIGNED_LONGS_EQUAL(5, f.size);
  UNSIGNED_LONGS_EQUAL(2, f.header_size);
  CHECK(f.out.type == packet_type::publish);
  UNSIGNED_LONGS_EQUAL(0x0b, f.out.flags);
  STRCMP_EQUAL("abc", std::string(f.out.body).c_str());
  CHECK(f.out.body.data() == wire.data() + 2);
}

TEST(mqtt_wire, an_empty_body_is_complete) {
  const frame f = next_packet(bytes({0xd0, 0}));
  CHECK(f.status == frame_status::complete);
  CHECK(f.out.type == packet_type::pingresp);
  UNSIGNED_LONGS_EQUAL(0, f.out.body.size());
}

TEST(mqtt_wire, a_fifth_length_byte_is_malformed) {
  CHECK(next_packet(bytes({0x30, 0x80, 0x80, 0x80, 0x80})).status == frame_status::malformed);
  CHECK(next_packet(bytes({0x30, 0x80, 0x80, 0x80, 0x80, 0x01})).status == frame_status::malformed);
}

TEST(mqtt_wire, reserved_packet_types_0_and_15_are_malformed) {
  for (const int first : {0x00, 0x0f, 0xf0, 0xff}) {
    CHECK(next_packet(bytes({first})).status == frame_status::malformed);
    CHECK(next_packet(bytes({first, 0})).status == frame_status::malformed);
  }
}

// --- PUBLISH ---

TEST(mqtt_wire, publish_qos0_with_retain_has_no_packet_id) {
  const std::string body = publish_body("a/b", 0, 0, "hello");
  publish_view v;
  CHECK_TRUE(parse_publish(publish(0x01, body), v));
  STRCMP_EQUAL("a/b", std::string(v.topic).c_str());
  STRCMP_EQUAL("hello", std::string(v.payload).c_str());
  LONGS_EQUAL(0, v.qos);
  UNSIGNED_LONGS_EQUAL(0, v.packet_id);
  CHECK_TRUE(v.retain);
  CHECK_FALSE(v.dup);
}

TEST(mqtt_wire, publish_qos1_with_dup_reads_the_packet_id) {
  const std::string body = publish_body("t", 1, 0x0102, "{}");
  publish_view v;
  CHECK_TRUE(parse_publish(publish(0x0a, body), v));
  STRCMP_EQUAL("t", std::string(v.topic).c_str());
  STRCMP_EQUAL("{}", std::string(v.payload).c_str());
  LONGS_EQUAL(1, v.qos);
  UNSIGNED_LONGS_EQUAL(0x0102, v.packet_id);
  CHECK_TRUE(v.dup);
  CHECK_FALSE(v.retain);
}

TEST(mqtt_wire, publish_qos2_with_dup_and_retain) {
  const std::string body = publish_body("x/y/z", 2, 65535, "p");
  publish_view v;
  CHECK_TRUE(parse_publish(publish(0x0d, body), v));
  STRCMP_EQUAL("x/y/z", std::string(v.topic).c_str());
  STRCMP_EQUAL("p", std::string(v.payload).c_str());
  LONGS_EQUAL(2, v.qos);
  UNSIGNED_LONGS_EQUAL(65535, v.packet_id);
  CHECK_TRUE(v.dup);
  CHECK_TRUE(v.retain);
}

TEST(mqtt_wire, publish_with_an_empty_payload_is_accepted) {
  for (const int qos : {0, 1}) {
    const std::string body = publish_body("t", qos, 9, "");
    publish_view v;
    CHECK_TRUE(parse_publish(publish(static_cast<std::uint8_t>(qos << 1), body), v));
    STRCMP_EQUAL("t", std::string(v.topic).c_str());
    UNSIGNED_LONGS_EQUAL(0, v.payload.size());
  }
}

TEST(mqtt_wire, publish_payload_may_hold_any_bytes_including_nul) {
  const std::string payload = bytes({0, 0xff, 0, 1});
  const std::string body = publish_body("t", 0, 0, payload);
  publish_view v;
  CHECK_TRUE(parse_publish(publish(0x00, body), v));
  STRCMP_EQUAL(hex(payload).c_str(), hex(v.payload).c_str());
}

TEST(mqtt_wire, publish_qos3_is_rejected) {
  publish_view v;
  CHECK_FALSE(parse_publish(publish(0x06, publish_body("t", 2, 1, "p")), v));
}

TEST(mqtt_wire, publish_with_packet_id_zero_is_rejected) {
  publish_view v;
  CHECK_FALSE(parse_publish(publish(0x02, publish_body("t", 1, 0, "p")), v));
  CHECK_FALSE(parse_publish(publish(0x04, publish_body("t", 2, 0, "p")), v));
}

TEST(mqtt_wire, publish_whose_topic_runs_past_the_body_is_rejected) {
  publish_view v;
  CHECK_FALSE(parse_publish(publish(0x00, bytes({0, 4, 'a', 'b', 'c'})), v));
  CHECK_FALSE(parse_publish(publish(0x00, bytes({0xff, 0xff, 'a'})), v));
  CHECK_FALSE(parse_publish(publish(0x00, bytes({0})), v));
  CHECK_FALSE(parse_publish(publish(0x00, ""), v));
}

TEST(mqtt_wire, publish_qos1_without_room_for_the_packet_id_is_rejected) {
  publish_view v;
  CHECK_FALSE(parse_publish(publish(0x02, bytes({0, 1, 't', 0})), v));
  CHECK_TRUE(parse_publish(publish(0x00, bytes({0, 1, 't', 0})), v));  // QoS 0: a payload byte
}

TEST(mqtt_wire, a_packet_that_is_not_a_publish_is_not_parsed_as_one) {
  publish_view v;
  CHECK_FALSE(parse_publish(packet{packet_type::puback, 0, publish_body("t", 0, 0, "")}, v));
}

TEST(mqtt_wire, publish_header_size_is_known_once_topic_and_packet_id_are_there) {
  const std::string qos1 = publish_body("abc", 1, 5, "payload");
  UNSIGNED_LONGS_EQUAL(7, publish_header_size(0x02, qos1));
  UNSIGNED_LONGS_EQUAL(7, publish_header_size(0x02, std::string_view(qos1).substr(0, 7)));
  UNSIGNED_LONGS_EQUAL(0, publish_header_size(0x02, std::string_view(qos1).substr(0, 6)));
  UNSIGNED_LONGS_EQUAL(0, publish_header_size(0x02, std::string_view(qos1).substr(0, 1)));
  const std::string qos0 = publish_body("abc", 0, 0, "payload");
  UNSIGNED_LONGS_EQUAL(5, publish_header_size(0x00, qos0));
  UNSIGNED_LONGS_EQUAL(0, publish_header_size(0x06, qos1));  // QoS 3
}

// --- CONNACK, SUBACK, acks ---

TEST(mqtt_wire, connack_accepted_with_and_without_a_session) {
  connack_view v;
  CHECK_TRUE(parse_connack(framed(bytes({0x20, 2, 0, 0})), v));
  CHECK_FALSE(v.session_present);
  UNSIGNED_LONGS_EQUAL(0, v.return_code);
  CHECK_TRUE(parse_connack(framed(bytes({0x20, 2, 1, 0})), v));
  CHECK_TRUE(v.session_present);
}

TEST(mqtt_wire, connack_refused_gives_the_return_code_and_its_reason) {
  connack_view v;
  CHECK_TRUE(parse_connack(framed(bytes({0x20, 2, 0, 5})), v));
  UNSIGNED_LONGS_EQUAL(5, v.return_code);
  STRCMP_EQUAL("not authorized", connack_reason(v.return_code));
}

TEST(mqtt_wire, connack_reasons_follow_the_standard) {
  STRCMP_EQUAL("accepted", connack_reason(0));
  STRCMP_EQUAL("unacceptable protocol version", connack_reason(1));
  STRCMP_EQUAL("client identifier rejected", connack_reason(2));
  STRCMP_EQUAL("server unavailable", connack_reason(3));
  STRCMP_EQUAL("bad user name or password", connack_reason(4));
  STRCMP_EQUAL("not authorized", connack_reason(5));
  STRCMP_EQUAL("unknown return code", connack_reason(6));
  STRCMP_EQUAL("unknown return code", connack_reason(255));
}

TEST(mqtt_wire, connack_of_the_wrong_length_or_with_reserved_flags_is_rejected) {
  connack_view v;
  CHECK_FALSE(parse_connack(framed(bytes({0x20, 1, 0})), v));
  CHECK_FALSE(parse_connack(framed(bytes({0x20, 3, 0, 0, 0})), v));
  CHECK_FALSE(parse_connack(framed(bytes({0x20, 2, 2, 0})), v));
  CHECK_FALSE(parse_connack(framed(bytes({0x20, 2, 0x80, 0})), v));
  CHECK_FALSE(parse_connack(framed(bytes({0x90, 2, 0, 0})), v));  // a SUBACK
}

TEST(mqtt_wire, suback_gives_the_packet_id_and_one_code_per_filter) {
  std::uint16_t id = 0;
  std::string_view codes;
  const std::string suback = bytes({0x90, 6, 0x01, 0x02, 0, 1, 2, 0x80});
  CHECK_TRUE(parse_suback(framed(suback), id, codes));
  UNSIGNED_LONGS_EQUAL(0x0102, id);
  STRCMP_EQUAL("00 01 02 80", hex(codes).c_str());
}

TEST(mqtt_wire, suback_without_codes_or_with_packet_id_zero_is_rejected) {
  std::uint16_t id = 0;
  std::string_view codes;
  CHECK_FALSE(parse_suback(framed(bytes({0x90, 2, 0, 1})), id, codes));
  CHECK_FALSE(parse_suback(framed(bytes({0x90, 3, 0, 0, 1})), id, codes));
  CHECK_FALSE(parse_suback(framed(bytes({0xb0, 3, 0, 1, 0})), id, codes));  // an UNSUBACK
}

TEST(mqtt_wire, acks_give_their_packet_id) {
  std::uint16_t id = 0;
  for (const int first : {0x40, 0x50, 0x62, 0x70, 0xb0}) {
    CHECK_TRUE(parse_packet_id(framed(bytes({first, 2, 0xab, 0xcd})), id));
    UNSIGNED_LONGS_EQUAL(0xabcd, id);
  }
}

TEST(mqtt_wire, ack_with_packet_id_zero_or_the_wrong_length_is_rejected) {
  std::uint16_t id = 0;
  CHECK_FALSE(parse_packet_id(framed(bytes({0x62, 2, 0, 0})), id));
  CHECK_FALSE(parse_packet_id(framed(bytes({0x62, 1, 1})), id));
  CHECK_FALSE(parse_packet_id(framed(bytes({0x62, 3, 0, 1, 0})), id));
}

// --- round trips ---

TEST(mqtt_wire, an_encoded_ack_frames_and_parses_back) {
  std::string out;
  encode_ack(out, packet_type::pubrel, 4242);
  const frame f = next_packet(out);
  CHECK(f.status == frame_status::complete);
  CHECK(f.out.type == packet_type::pubrel);
  UNSIGNED_LONGS_EQUAL(0x2, f.out.flags);
  std::uint16_t id = 0;
  CHECK_TRUE(parse_packet_id(f.out, id));
  UNSIGNED_LONGS_EQUAL(4242, id);
}

TEST(mqtt_wire, encoded_packets_frame_back_to_back) {
  std::string out;
  encode_connect(out, options("portier-gw-local", "u", "p", 30, false));
  encode_subscribe(out, 1, {"home/#", "tele/+/SENSOR"}, 2);
  encode_unsubscribe(out, 2, {"home/#"});
  encode_pingreq(out);
  encode_disconnect(out);
  const packet_type expected[] = {packet_type::connect, packet_type::subscribe,
                                  packet_type::unsubscribe, packet_type::pingreq,
                                  packet_type::disconnect};
  std::string_view rest = out;
  for (const packet_type t : expected) {
    const frame f = next_packet(rest);
    CHECK(f.status == frame_status::complete);
    CHECK(f.out.type == t);
    rest.remove_prefix(f.size);
  }
  UNSIGNED_LONGS_EQUAL(0, rest.size());
}
