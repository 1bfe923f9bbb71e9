#include "gateway/web/pages/texts.h"

#include <map>

namespace portier::gateway::web {

extern const texts texts_en;
extern const texts texts_fr;

const texts& texts_for(language lang) {
  return lang == language::fr ? texts_fr : texts_en;
}

std::string fill(std::string_view pattern, std::initializer_list<std::string_view> args) {
  std::string out;
  auto next = args.begin();
  std::size_t i = 0;
  while (i < pattern.size()) {
    if (pattern.compare(i, 2, "{}") == 0) {
      if (next != args.end()) out += *next++;
      i += 2;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

namespace {

struct two_words {
  std::string_view en, fr;
};

std::string lookup(const std::map<std::string_view, two_words>& words, language lang,
                   std::string_view key) {
  const auto it = words.find(key);
  if (it == words.end()) return std::string(key);
  return std::string(lang == language::fr ? it->second.fr : it->second.en);
}

}  // namespace

std::string drop_reason_text(language lang, std::string_view reason) {
  static const std::map<std::string_view, two_words> words = {
      {"paused", {"sharing was paused", "le partage était en pause"}},
      {"invalid_topic", {"unusable topic", "sujet inutilisable"}},
      {"unmatched_topic",
       {"from devices the policy does not cover", "d’appareils que la politique ne couvre pas"}},
      {"too_large", {"too large", "trop grand"}},
      {"too_deep", {"too deeply nested", "trop imbriqué"}},
      {"invalid_json", {"not valid JSON", "JSON invalide"}},
      {"invalid_utf8", {"not valid text", "texte invalide"}},
      {"duplicate_key", {"ambiguous (a field given twice)", "ambigu (un champ donné deux fois)"}},
      {"no_purpose_granted",
       {"no purpose allowed for the device", "aucune finalité autorisée pour l’appareil"}},
      {"consent_refused", {"you have not allowed it", "vous ne l’avez pas autorisée"}},
      {"purpose_suspended", {"the operator has stopped it", "l’opérateur l’a arrêtée"}},
      {"nothing_permitted",
       {"nothing in it that the purpose may receive", "rien que la finalité puisse recevoir"}},
      {"unlisted_field",
       {"fields the policy does not list", "champs que la politique ne mentionne pas"}},
      {"policy_drop",
       {"fields the policy keeps at home", "champs que la politique garde chez vous"}},
      {"type_mismatch", {"values of an unexpected type", "valeurs d’un type inattendu"}},
      {"incomplete_location", {"incomplete locations", "positions incomplètes"}},
      {"implausible_time", {"times that cannot be right", "heures impossibles"}},
      {"device_churn",
       {"from too many new devices at once", "de trop de nouveaux appareils à la fois"}},
      {"ignored_topic",
       {"known messages that always stay home", "messages connus qui restent toujours chez vous"}},
      {"unannounced_topic",
       {"from sensors that have not said what they measure",
        "de capteurs qui n’ont pas dit ce qu’ils mesurent"}},
      {"unknown_announcement",
       {"from sensors that measure something the policy does not cover",
        "de capteurs qui mesurent ce que la politique ne couvre pas"}},
      {"window_sparse",
       {"periods with too few readings to be summed up",
        "périodes avec trop peu de mesures pour être résumées"}},
      {"budget_exhausted",
       {"the day’s privacy budget was spent", "le budget de confidentialité du jour était épuisé"}},
      {"window_limit",
       {"readings beyond what the box summarises at once",
        "mesures au-delà de ce que le boîtier résume à la fois"}},
  };
  return lookup(words, lang, reason);
}

std::string rejection_text(language lang, std::string_view code) {
  static const std::map<std::string_view, two_words> words = {
      {"too-large", {"too large", "trop grande"}},
      {"bad-signature", {"its signature is not valid", "sa signature n’est pas valide"}},
      {"unknown-key",
       {"signed by a key the box does not trust",
        "signée par une clé à laquelle le boîtier ne se fie pas"}},
      {"rollback", {"older than the one in force", "plus ancienne que celle en vigueur"}},
      {"expired", {"expired", "expirée"}},
      {"not-targeted", {"meant for other boxes", "destinée à d’autres boîtiers"}},
      {"invalid-policy",
       {"the policy in it is not valid", "la politique qu’elle contient n’est pas valide"}},
      {"invalid-key-list", {"its key list is not valid", "sa liste de clés n’est pas valide"}},
      {"internal", {"a fault inside the box", "un problème dans le boîtier"}},
  };
  return lookup(words, lang, code);
}

}  // namespace portier::gateway::web
