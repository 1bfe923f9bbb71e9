// Plain-language explanations: one phrase per field and purpose, and the whole policy.
#include "policies/explain.h"

#include <string>

#include "test_support.h"

using namespace portier::policies;
using portier::policies::test::compile_ok;

namespace {

const char* const kPolicy = R"(
name: "demo" version: 3
purpose { id: "service" title: "Keep devices working" description: "Checks devices." legal_basis: CONTRACT
  retention_seconds: 86400 }
purpose { id: "analytics" title: "Insights" legal_basis: CONSENT retention_seconds: 7200 }
purpose { id: "where" title: "Location" legal_basis: CONSENT special_category: LOCATION retention_seconds: 90
  suspended: true topic_template: "loc/{device}" }
purpose { id: "idle" title: "Nothing" legal_basis: LEGITIMATE_INTEREST retention_seconds: 60 }
device_class { id: "sensor" title: "climate sensor" topic: "s/{device}"
  field { path: "temperature" title: "temperature" unit: "°C"
    rule { purpose: "analytics" round { step: 0.5 } } rule { purpose: "service" keep {} } }
  field { path: "humidity" rule { purpose: "analytics" round { step: 1 } } }
  field { path: "power" title: "power" unit: "W" rule { purpose: "analytics" round { step: 10 } } }
  field { path: "battery" title: "battery level" unit: "%" rule { purpose: "service" keep {} } }
  field { path: "state" title: "on/off state" rule { purpose: "service" keep {} } }
  field { path: "ieee" title: "hardware address" rule { purpose: "service" pseudonymise {} } }
  field { path: "lux" title: "light level"
    rule { purpose: "analytics" bucket { bound: [10, 100] label: ["dark", "dim", "bright"] } } }
  field { path: "seen" title: "time last seen"
    rule { purpose: "analytics" coarsen_time { to: HOUR } } rule { purpose: "service" coarsen_time { to: MINUTE } } }
  field { path: "name" title: "name" rule { purpose: "service" truncate { length: 3 } } }
  field { path: "lat" title: "position"
    rule { purpose: "where" generalise_location { longitude: "lon" cell_km: 5 } } }
  field { path: "ssid" title: "Wi-Fi network" rule { purpose: "service" drop {} } }
  field { path: "secret" }
}
device_class { id: "plug" topic: "p/{device}" format: RAW
  field { path: "$" title: "reading time" rule { purpose: "analytics" coarsen_time { to: DAY } } } }
)";

struct fixture {
  std::shared_ptr<const compiled_policy> policy = compile_ok(kPolicy);
};

void check_phrase(const compiled_policy& p, const char* device_class, const char* path,
                  const char* purpose, const char* expected, const char* file, int line) {
  const compiled_class* c = p.find_class(device_class);
  std::size_t field = 0;
  while (field < c->fields.size() && c->fields[field].path != path) ++field;
  CHECK_TRUE_LOCATION(field < c->fields.size(), "PHRASE", path, "no such field", file, line);
  const std::string what = std::string(path) + " for " + purpose;
  STRCMP_EQUAL_LOCATION(
      expected,
      explain_field(*c, field, static_cast<std::size_t>(p.purpose_index(purpose))).c_str(),
      what.c_str(), file, line);
}

#define PHRASE(device_class, path, purpose, expected) \
  check_phrase(*f.policy, device_class, path, purpose, expected, __FILE__, __LINE__)

}  // namespace

TEST_GROUP(explain) {
  fixture f;
};

TEST(explain, one_phrase_per_field_and_purpose) {
  PHRASE("sensor", "temperature", "analytics", "temperature rounded to 0.5 °C");
  PHRASE("sensor", "temperature", "service", "temperature (°C) as sent");
  PHRASE("sensor", "humidity", "analytics",
         "humidity rounded to 1");  // the path when there is no title
  PHRASE("sensor", "power", "analytics", "power rounded to 10 W");
  PHRASE("sensor", "battery", "service", "battery level (%) as sent");
  PHRASE("sensor", "state", "service", "on/off state as sent");
  PHRASE("sensor", "ieee", "service", "hardware address as a pseudonym");
  PHRASE("sensor", "lux", "analytics", "light level only as a range (dark, dim, bright)");
  PHRASE("sensor", "seen", "analytics", "time last seen to the hour");
  PHRASE("sensor", "seen", "service", "time last seen to the minute");
  PHRASE("sensor", "name", "service", "name cut to its first 3 characters");
  PHRASE("sensor", "lat", "where", "position and longitude only as a 5 km grid cell");
  PHRASE("plug", "$", "analytics", "reading time to the day");
}

TEST(explain, nothing_for_what_a_purpose_does_not_receive) {
  PHRASE("sensor", "temperature", "where", "");
  PHRASE("sensor", "ssid", "service", "");  // dropped explicitly
  PHRASE("sensor", "secret", "service", "");
  PHRASE("sensor", "lon", "where", "");  // said with its latitude
  PHRASE("sensor", "battery", "analytics", "");
}

TEST(explain, the_whole_policy) {
  STRCMP_EQUAL(
      "Policy \"demo\", version 3\n"
      "\n"
      "Keep devices working [service]\n"
      "  Checks devices.\n"
      "  Legal basis: contract. Runs unless the household refuses it.\n"
      "  Data waits at most 1 day to be sent; then it is deleted.\n"
      "  Sent to: portier/{gateway}/{purpose}/{class}/{device} (device names replaced by "
      "pseudonyms)\n"
      "  From climate sensor [sensor]:\n"
      "    - temperature (°C) as sent\n"
      "    - battery level (%) as sent\n"
      "    - on/off state as sent\n"
      "    - hardware address as a pseudonym\n"
      "    - time last seen to the minute\n"
      "    - name cut to its first 3 characters\n"
      "  Nothing else leaves for this purpose.\n"
      "\n"
      "Insights [analytics]\n"
      "  Legal basis: consent. Nothing is sent until the household grants it.\n"
      "  Data waits at most 2 hours to be sent; then it is deleted.\n"
      "  Sent to: portier/{gateway}/{purpose}/{class}/{device} (device names replaced by "
      "pseudonyms)\n"
      "  From climate sensor [sensor]:\n"
      "    - temperature rounded to 0.5 °C\n"
      "    - humidity rounded to 1\n"
      "    - power rounded to 10 W\n"
      "    - light level only as a range (dark, dim, bright)\n"
      "    - time last seen to the hour\n"
      "  From plug [plug]:\n"
      "    - reading time to the day\n"
      "  Nothing else leaves for this purpose.\n"
      "\n"
      "Location [where]\n"
      "  Legal basis: consent; special category: location. Nothing is sent until the household "
      "grants it.\n"
      "  SUSPENDED by the operator: nothing is sent.\n"
      "  Data waits at most 90 seconds to be sent; then it is deleted.\n"
      "  Sent to: loc/{device} (device names replaced by pseudonyms)\n"
      "  From climate sensor [sensor]:\n"
      "    - position and longitude only as a 5 km grid cell\n"
      "  Nothing else leaves for this purpose.\n"
      "\n"
      "Nothing [idle]\n"
      "  Legal basis: legitimate interest. Runs unless the household refuses it.\n"
      "  Data waits at most 1 minute to be sent; then it is deleted.\n"
      "  Sent to: portier/{gateway}/{purpose}/{class}/{device} (device names replaced by "
      "pseudonyms)\n"
      "  Receives nothing.\n"
      "\n"
      "Never leaves: any field, topic or device not listed above.\n"
      "  Climate sensor: Wi-Fi network, secret stay at home.\n",
      explain_policy(*f.policy).c_str());
}

TEST(explain, an_unnamed_policy_and_other_durations) {
  auto p = compile_ok(R"(
purpose { id: "a" title: "A" legal_basis: LEGAL_OBLIGATION retention_seconds: 604800 }
purpose { id: "b" title: "B" legal_basis: CONTRACT special_category: HEALTH retention_seconds: 3600 }
purpose { id: "c" title: "C" legal_basis: CONTRACT retention_seconds: 120 }
device_class { id: "d" topic: "d/{device}" field { path: "v" rule { purpose: ["a", "b", "c"] keep {} } } }
)");
  const std::string text = explain_policy(*p);
  STRCMP_CONTAINS("Policy (unnamed), version 0\n", text.c_str());
  STRCMP_CONTAINS(
      "  Legal basis: legal obligation. Runs unless the household refuses it.\n"
      "  Data waits at most 7 days to be sent",
      text.c_str());
  STRCMP_CONTAINS(
      "  Legal basis: contract; special category: health. Nothing is sent until the household "
      "grants it.\n"
      "  Data waits at most 1 hour to be sent",
      text.c_str());
  STRCMP_CONTAINS("  Data waits at most 2 minutes to be sent", text.c_str());
  CHECK_TRUE(text.find("stay at home") == std::string::npos);
}

TEST(explain, the_shipped_defaults) {
  auto sources = load_policy_dir(std::string(PORTIER_SOURCE_DIR) + "/policies/defaults");
  CHECK_TRUE(sources.ok());
  auto compiled = compile_policy(*sources);
  CHECK_TRUE(compiled.errors.empty());
  const std::string text = explain_policy(*compiled.policy);
  for (const char* phrase :
       {"Keep your devices working [service]", "Energy and climate insights [analytics]",
        "Presence and location [location]",
        "    - temperature: averaged per quarter hour, to 0.5 °C; never single readings\n",
        "    - position and longitude only as a 5 km grid cell\n",
        "    - power: averaged per hour, to 10 W; never single readings\n",
        "Energy and climate research with privacy noise [energy-research]",
        "  Privacy budget: the noisy windows of one device spend at most ε 1 a day (UTC)",
        "    - electricity used, low tariff: how much it rose per day, to 0.01 kWh; never single "
        "readings, with random noise added (differential privacy, ε 0.25 a window): off by 0.4 kWh "
        "on average\n",
        "    - device hardware address as a pseudonym\n",
        "    - radio link quality only as a range (weak, fair, good)\n"}) {
    STRCMP_CONTAINS(phrase, text.c_str());
  }
}

namespace {

void check_form(const compiled_policy& p, const char* device_class, const char* path,
                const char* purpose, const char* expected, const char* file, int line) {
  const compiled_class* c = p.find_class(device_class);
  std::size_t field = 0;
  while (field < c->fields.size() && c->fields[field].path != path) ++field;
  CHECK_TRUE_LOCATION(field < c->fields.size(), "FORM", path, "no such field", file, line);
  STRCMP_EQUAL_LOCATION(
      expected, explain_form(*c, field, static_cast<std::size_t>(p.purpose_index(purpose))).c_str(),
      (std::string(path) + " for " + purpose).c_str(), file, line);
}

#define FORM(device_class, path, purpose, expected) \
  check_form(*f.policy, device_class, path, purpose, expected, __FILE__, __LINE__)

}  // namespace

// docs/DEFAULTS.md's table cells: the form alone, the field's name is in its own column.
TEST(explain, the_form_each_purpose_receives_a_field_in) {
  FORM("sensor", "temperature", "analytics", "rounded to 0.5 °C");
  FORM("sensor", "temperature", "service", "as sent");
  FORM("sensor", "ieee", "service", "as a pseudonym");
  FORM("sensor", "lux", "analytics",
       "only its range: dark (under 10), dim (10 to under 100), bright (100 or more)");
  FORM("sensor", "seen", "analytics", "cut to the hour");
  FORM("sensor", "seen", "service", "cut to the minute");
  FORM("sensor", "name", "service", "its first 3 characters");
  FORM("sensor", "lat", "where", "together with `lon`, only as the centre of its 5 km grid cell");
  FORM("sensor", "lon", "where", "together with `lat`, only as the centre of its 5 km grid cell");
  FORM("plug", "$", "analytics", "cut to the day");
  FORM("sensor", "ssid", "service", "");
  FORM("sensor", "secret", "service", "");
  FORM("sensor", "battery", "analytics", "");

  auto p = compile_ok(R"(
purpose { id: "a" title: "A" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "d" topic: "d/{device}"
  field { path: "s" rule { purpose: "a" keep { type: STRING max_length: 16 } } }
  field { path: "n" rule { purpose: "a" keep { type: NUMBER max_length: 1 } } }
  field { path: "b" rule { purpose: "a" keep { type: BOOL } } }
  field { path: "l" rule { purpose: "a" keep { max_length: 4 } } }
  field { path: "t" rule { purpose: "a" keep { type: STRING } } }
  field { path: "w" unit: "W" rule { purpose: "a" round { step: 1000000 } } } }
)");
  const compiled_class& d = *p->find_class("d");
  STRCMP_EQUAL("as sent, if text of at most 16 characters", explain_form(d, 0, 0).c_str());
  STRCMP_EQUAL("as sent, if a number of at most 1 character", explain_form(d, 1, 0).c_str());
  STRCMP_EQUAL("as sent, if true or false", explain_form(d, 2, 0).c_str());
  STRCMP_EQUAL("as sent, if at most 4 characters", explain_form(d, 3, 0).c_str());
  STRCMP_EQUAL("as sent, if text", explain_form(d, 4, 0).c_str());
  STRCMP_EQUAL("rounded to 1000000 W", explain_form(d, 5, 0).c_str());
}

TEST(explain, markdown_for_households_and_regulators) {
  const std::string md = explain_policy_markdown(*f.policy);
  STRCMP_CONTAINS("# What leaves the home: policy \"demo\", version 3\n", md.c_str());
  STRCMP_CONTAINS("**Everything not listed here stays home:**", md.c_str());
  STRCMP_CONTAINS(
      "| Location (`where`) | consent | location | suspended by the operator: nothing is sent | "
      "90 seconds |\n",
      md.c_str());
  STRCMP_CONTAINS("- Sent to the topic `loc/{device}`; device names in it are pseudonyms.\n",
                  md.c_str());
  // Both classes have no ecosystem.
  STRCMP_CONTAINS("## Ecosystems\n\n- [Other](#other): 2 device classes\n\n## Other\n", md.c_str());
  STRCMP_CONTAINS(
      "| Field | Path | `service` | `analytics` | `where` | `idle` | Why |\n"
      "|---|---|---|---|---|---|---|\n"
      "| temperature (°C) | `temperature` | as sent | rounded to 0.5 °C | — | — | — |\n",
      md.c_str());
  // The synthetic longitude has no row: its latitude's says where it goes.
  CHECK_TRUE(md.find("| `lon` |") == std::string::npos);
  STRCMP_CONTAINS("| secret | `secret` | — | — | — | — | listed only to say it stays home |\n",
                  md.c_str());
  STRCMP_CONTAINS("- The payload is a bare value, not JSON: its only field is `$`.\n", md.c_str());
  STRCMP_EQUAL(md.c_str(), explain_policy_markdown(*f.policy).c_str());  // deterministic

  // Text from the policy stays text: no links, emphasis, HTML or a broken table.
  auto odd = compile_ok(R"pb(
    purpose { id: "a" title: "A *bold* [link](x)" legal_basis: CONTRACT retention_seconds: 60 }
    device_class {
      id: "d"
      title: "<img src=x>"
      ecosystem: "R&D_lab `x`"
      topic: "d/{device}"
      when { path: "k" equals: "a`b|c" }
      field {
        path: "v"
        title: "v_1 _x_"
        why: "a | b\nc &amp;"
        rule {
          purpose: "a"
          keep {}
        }
      }
    }
  )pb");
  const std::string text = explain_policy_markdown(*odd);
  STRCMP_CONTAINS("| A \\*bold\\* \\[link\\](x) (`a`) |", text.c_str());
  STRCMP_CONTAINS("## R&D_lab \\`x\\`\n", text.c_str());  // '_' inside a word is no emphasis
  STRCMP_CONTAINS("- [R&D_lab \\`x\\`](#rd_lab-x):", text.c_str());
  STRCMP_CONTAINS("### &lt;img src=x&gt; (`d`)\n", text.c_str());
  STRCMP_CONTAINS("- Only messages whose `k` is `` a`b\\|c ``.\n", text.c_str());
  STRCMP_CONTAINS("| v_1 \\_x_ | `v` | as sent | a \\| b c &amp;amp; |\n", text.c_str());
}

TEST(explain, markdown_says_which_classes_announce_and_which_are_chosen_by_it) {
  auto p = compile_ok(R"pb(
    purpose { id: "a" title: "A" legal_basis: CONTRACT retention_seconds: 60 }
    device_class {
      id: "discovery"
      topic: "disc/{device}/config"
      announces { state_topic: "stat_t" device_class: "dev_cla" unit: "unit_of_meas" }
      field {
        path: "dev_cla"
        rule {
          purpose: "a"
          keep {}
        }
      }
    }
    device_class {
      id: "temperature"
      topic: "{device}/sensor/{entity}/state"
      format: RAW
      when {
        announced {
          device_class: [ "temperature", "" ]
          unit: [ "°C", "°F" ]
        }
      }
      field {
        path: "$"
        rule {
          purpose: "a"
          round { step: 0.5 }
        }
      }
    }
    device_class {
      id: "any"
      topic: "{device}/binary/{entity}/state"
      format: RAW
      when { announced {} }
      field {
        path: "$"
        rule {
          purpose: "a"
          keep {}
        }
      }
    }
  )pb");
  const std::string md = explain_policy_markdown(*p);
  STRCMP_CONTAINS(
      "- Each message also tells the gateway what a state topic carries (device class, unit), "
      "which decides how that topic's messages leave; telling it sends nothing.\n",
      md.c_str());
  STRCMP_CONTAINS(
      "- Only topics a discovery message announced as `temperature` or with no device class, "
      "in `°C` or `°F`; a topic never announced, or announced otherwise, stays home.\n",
      md.c_str());
  STRCMP_CONTAINS(
      "- Only topics a discovery message announced; a topic never announced, or announced "
      "otherwise, stays home.\n",
      md.c_str());
}

// Aggregates: how often, in what function and on what grid, and what the noise costs, in plain
// words; the noise's cost is the exact E|X| · step of discrete_laplace.
TEST(explain, windows_and_noise_in_plain_words) {
  auto p = compile_ok(R"pb(
    purpose { id: "a" title: "A" legal_basis: CONTRACT retention_seconds: 60 epsilon_per_day: 1 }
    device_class {
      id: "m"
      topic: "m/{device}"
      field {
        path: "e"
        title: "energy"
        unit: "kWh"
        rule {
          purpose: "a"
          aggregate { function: DELTA window_seconds: 900 step: 0.001 }
        }
      }
      field {
        path: "p"
        title: "power"
        unit: "W"
        rule {
          purpose: "a"
          aggregate { function: MEAN window_seconds: 3600 step: 10 }
        }
      }
      field {
        path: "s"
        title: "setpoint"
        unit: "°C"
        rule {
          purpose: "a"
          aggregate { function: LAST window_seconds: 900 step: 0.5 }
        }
      }
      field {
        path: "x"
        title: "peak"
        rule {
          purpose: "a"
          aggregate { function: MAX window_seconds: 21600 step: 1 }
        }
      }
      field {
        path: "n"
        title: "readings"
        rule {
          purpose: "a"
          aggregate { function: COUNT window_seconds: 60 }
        }
      }
      field {
        path: "d"
        title: "daily energy"
        unit: "kWh"
        rule {
          purpose: "a"
          aggregate {
            function: DELTA
            window_seconds: 86400
            step: 0.01
            noise { epsilon: 0.25 lower: 0 upper: 0.1 }
          }
        }
      }
      field {
        path: "t"
        title: "temperature"
        unit: "°C"
        rule {
          purpose: "a"
          aggregate {
            function: MEAN
            window_seconds: 86400
            step: 0.1
            min_samples: 48
            noise { epsilon: 0.5 lower: 10 upper: 30 }
          }
        }
      }
    }
  )pb");
  const compiled_class& m = *p->find_class("m");
  STRCMP_EQUAL("how much it rose per quarter hour, to 0.001 kWh; never single readings",
               explain_form(m, 0, 0).c_str());
  STRCMP_EQUAL("averaged per hour, to 10 W; never single readings", explain_form(m, 1, 0).c_str());
  STRCMP_EQUAL("only its last reading of each quarter hour, to 0.5 °C",
               explain_form(m, 2, 0).c_str());
  STRCMP_EQUAL("only its highest reading of every 6 hours, to 1", explain_form(m, 3, 0).c_str());
  STRCMP_EQUAL("how many readings there were per minute; never the readings",
               explain_form(m, 4, 0).c_str());
  // Δ = 0.1 / 0.01 = 10 steps, λ = ε/Δ = 0.025: E|X| = 1/sinh(0.025) = 39.996 steps = 0.39996 kWh.
  STRCMP_EQUAL(
      "how much it rose per day, to 0.01 kWh; never single readings, with random noise added "
      "(differential privacy, ε 0.25 a window): off by 0.4 kWh on average",
      explain_form(m, 5, 0).c_str());
  // A mean's Δ shrinks with its readings: with the fewest it is sent with, 20 / 0.1 / 48 = 4.17
  // steps, λ = 0.12: E|X| = 1/sinh(0.12) = 8.31 steps = 0.83 °C.
  STRCMP_EQUAL(
      "daily energy: how much it rose per day, to 0.01 kWh; never single readings, with random "
      "noise added (differential privacy, ε 0.25 a window): off by 0.4 kWh on average",
      explain_field(m, 5, 0).c_str());
  STRCMP_CONTAINS("off by 0.83 °C on average with 48 readings, less with more",
                  explain_form(m, 6, 0).c_str());

  const std::string md = explain_policy_markdown(*p);
  STRCMP_CONTAINS("- Privacy budget: the noisy figures of one device spend at most ε 1 a day",
                  md.c_str());
  STRCMP_CONTAINS("- **averaged per quarter hour** (summed, how much it rose", md.c_str());
  STRCMP_CONTAINS("- **with random noise added (differential privacy, ε 0.25 a window)**",
                  md.c_str());
  STRCMP_CONTAINS(
      "| `a` | `m` | daily energy (kWh) | how much it rose per day, to 0.01 kWh | 0.25 | 0 to 0.1 "
      "kWh | "
      "0.4 kWh |\n",
      md.c_str());
  // A mean: with the fewest readings, and with one every 15 and every 5 minutes.
  STRCMP_CONTAINS(
      "| `a` | `m` | temperature (°C) | averaged per day, to 0.1 °C | 0.5 | 10 to 30 °C | "
      "0.83 °C (48 readings), 0.41 °C (96 readings), 0.13 °C (288 readings) |\n",
      md.c_str());

  // Without windows and noise, neither the legend nor the table.
  const std::string plain = explain_policy_markdown(*f.policy);
  CHECK_TRUE(plain.find("averaged per quarter hour") == std::string::npos);
  CHECK_TRUE(plain.find("What the noise costs") == std::string::npos);
}
