// The LAN page in French (texts.h).
#include "gateway/web/pages/texts.h"

namespace portier::gateway::web {

extern const texts texts_fr;
const texts texts_fr = {
    .lang_tag = "fr",
    .brand = "Portier",
    .skip_link = "Aller au contenu",
    .nav_label = "Pages",
    .nav_home = "Ce qui sort de chez moi",
    .nav_purposes = "Finalités",
    .nav_devices = "Appareils",
    .nav_receipts = "Reçus",
    .nav_export = "Exporter",
    .nav_updates = "Mises à jour de la politique",
    .session_label = "Ce navigateur",
    .log_out = "Se déconnecter",
    .log_out_everywhere = "Se déconnecter partout",
    .go_home = "Aller à la page d’accueil",

    .sharing_heading = "Partage",
    .paused_state =
        "Le partage est en pause : rien ne sort de chez vous. Vos décisions sont "
        "conservées.",
    .active_state = "Le partage est actif : chaque finalité reçoit ce que vous avez autorisé.",
    .pause_button = "Mettre tout le partage en pause",
    .resume_button = "Reprendre le partage",
    .suspended_heading = "Arrêtées par l’opérateur",
    .suspended_intro =
        "L’opérateur a arrêté ces finalités : elles ne reçoivent rien, quelles que "
        "soient vos décisions.",
    .span_label = "Période",
    .span_day = "Dernier jour",
    .span_week = "Dernière semaine",
    .span_month = "Dernier mois",
    .summary = "Du {} au {}, ce qui est sorti de chez vous : {}, {}.",
    .ledger_starts =
        "Le registre ne remonte qu’au {} : les entrées plus anciennes ont laissé la "
        "place aux nouvelles.",
    .nothing_left = "Rien n’est sorti de chez vous pendant cette période.",
    .chart_per_hour = "Messages sortis de chez vous, par heure",
    .chart_per_6h = "Messages sortis de chez vous, par tranche de 6 heures",
    .chart_per_day = "Messages sortis de chez vous, par jour",
    .chart_desc = "{} au total, du {} au {} ; le plus à la fois : {} ({}).",
    .chart_bar = "{} : {}",
    .col_purpose = "Finalité",
    .col_messages = "Messages",
    .col_size = "Taille",
    .col_fields = "Ce qui est sorti",
    .erased_device = "Un appareil effacé",
    .forgotten_device = "Un appareil oublié",
    .kept_heading = "Gardé chez vous",
    .kept_intro = "Gardé chez vous pendant cette période, par raison :",
    .kept_nothing = "Rien n’a été retenu pendant cette période.",

    .purposes_intro =
        "Chaque finalité est un usage que l’opérateur fait de ce que mesurent vos "
        "appareils. Vous décidez lesquelles reçoivent quelque chose.",
    .paused_note =
        "Le partage est en pause : aucune finalité ne reçoit quoi que ce soit avant "
        "que vous le repreniez.",
    .policy_note = "Finalités de la politique {}, version {}.",
    .no_purposes = "La politique en vigueur n’a aucune finalité.",
    .legal_basis = "Base légale",
    .basis_consent = "Votre consentement : elle ne reçoit rien tant que vous ne l’autorisez pas.",
    .basis_contract = "Votre contrat avec l’opérateur : autorisée sauf si vous la refusez.",
    .basis_legitimate = "L’intérêt légitime de l’opérateur : autorisée sauf si vous la refusez.",
    .basis_obligation =
        "Une obligation légale de l’opérateur : autorisée sauf si vous la "
        "refusez.",
    .basis_unknown = "Non indiquée.",
    .special_heading = "Données sensibles",
    .special_health = "Données de santé : elle a toujours besoin de votre autorisation explicite.",
    .special_location =
        "Où se trouvent les personnes : elle a toujours besoin de votre "
        "autorisation explicite.",
    .special_biometric =
        "Données biométriques : elle a toujours besoin de votre autorisation "
        "explicite.",
    .receives_heading = "Ce qu’elle reçoit",
    .receives_from = "De {} : {}",
    .receives_nothing = "rien",
    .receives_no_device =
        "Aucun de vos appareils n’est d’un type dont cette finalité reçoit "
        "quelque chose.",
    .decision_heading = "Votre décision pour tout le domicile",
    .allowed = "Autorisée",
    .refused = "Refusée",
    .by_default = "par défaut : vous n’avez pas décidé",
    .decided = "décidé le {}, {}",
    .method_web = "sur cette page",
    .method_cli = "avec portierctl",
    .method_config = "par les premiers réglages du boîtier",
    .method_policy_update =
        "maintenue refusée quand une mise à jour de la politique l’aurait "
        "élargie",
    .suspended_note =
        "L’opérateur a arrêté cette finalité : elle ne reçoit rien, quelle que soit "
        "votre décision.",
    .allow_home = "Autoriser pour tout le domicile",
    .refuse_home = "Refuser pour tout le domicile",
    .clear_home = "Revenir au choix par défaut",
    .class_decisions_heading = "Décisions par type d’appareil",
    .class_decision = "Chaque « {} » : {}",
    .clear = "Effacer",
    .clear_for = "Effacer la décision pour {}",
    .per_device_heading = "Par appareil",
    .from_device = "votre décision pour cet appareil",
    .from_class = "votre décision pour ce type d’appareil",
    .from_household = "votre décision pour le domicile",
    .from_default = "le choix par défaut",
    .allow = "Autoriser",
    .refuse = "Refuser",
    .allow_for = "Autoriser {} pour {}",
    .refuse_for = "Refuser {} pour {}",
    .follow_home = "Suivre la décision du domicile",
    .follow_home_for = "Suivre la décision du domicile sur {} pour {}",
    .budget_heading = "Budget de confidentialité",
    .budget_text =
        "Du bruit masque les mesures de chaque appareil : au plus ε {} par jour et "
        "par appareil. Aujourd’hui, le plus dépensé par un appareil est ε {}.",
    .budget_raised =
        "L’opérateur a relevé ce budget de ε {} à ε {} par jour le {} (politique "
        "{}, version {}) : on peut en apprendre davantage sur chaque appareil.",

    .devices_intro =
        "Tous les appareils que le boîtier a vus. Ouvrez-en un pour voir son dernier "
        "message à côté de ce qui en est sorti.",
    .no_devices = "Aucun appareil n’a encore été vu.",
    .device_summary = "{} · dernier message {} · {} depuis le démarrage du boîtier",
    .shares_with = "Partage avec : {}.",
    .shares_with_none = "Ne partage avec aucune finalité.",
    .erased_notice =
        "{} a été effacé : ce qui attendait d’être envoyé a été détruit, et le "
        "registre ne dit plus de quel appareil il s’agissait.",
    .erased_upstream_sent = "L’opérateur a été prié de l’effacer aussi.",
    .erased_upstream_waiting =
        "La demande d’effacement à l’opérateur attend chez vous : elle "
        "part dès que la connexion revient.",

    .latest_heading = "Son dernier message, tel qu’il l’a envoyé",
    .received_at = "Reçu le {} ({}).",
    .topic_label = "Sujet",
    .binary_payload = "Contenu binaire, {} : non affiché.",
    .whole_dropped = "Rien n’en est sorti de chez vous : {}.",
    .left_heading = "Ce qui en est sorti, par finalité",
    .sent_on = "Envoyé sur",
    .sent_as_summary =
        "Ce message reste chez vous : ses valeurs ne partent que résumées, à la fin de la période "
        "où il tombe (la page Finalités dit laquelle).",
    .received_nothing = "N’a rien reçu : {}.",
    .worked_out =
        "Calculé avec la politique en vigueur ({}, version {}) et vos décisions "
        "actuelles.",
    .erase_heading = "Effacer cet appareil",
    .erase_intro =
        "Détruit ce qui attend d’être envoyé, rend son registre anonyme et demande à "
        "l’opérateur de l’effacer aussi.",
    .erase_link = "Effacer {}…",
    .device_unseen =
        "Il n’a rien envoyé depuis le démarrage du boîtier : aucun message à "
        "montrer.",

    .erase_title = "Effacer {} ?",
    .erase_spool = "Ce qui attend chez vous d’être envoyé est détruit sans être envoyé.",
    .erase_ledger =
        "Le registre de ce qui est sorti continue de compter ses messages mais ne dit "
        "plus de quel appareil il s’agissait.",
    .erase_upstream = "L’opérateur est prié d’effacer ce qu’il en a reçu.",
    .erase_final = "C’est irréversible.",
    .erase_confirm_button = "Oui, effacer {}",
    .erase_cancel = "Non, le garder",

    .receipts_title = "Reçus de consentement",
    .receipts_intro =
        "Un reçu pour chaque décision, du plus récent au plus ancien, chaînés pour "
        "qu’une modification se voie. L’export les contient tous avec leurs "
        "empreintes.",
    .no_receipts = "Aucun reçu pour l’instant.",
    .col_when = "Quand",
    .col_decision = "Décision",
    .col_scope = "Pour",
    .col_how = "Comment",
    .col_policy = "Politique",
    .col_receipt = "Reçu",
    .decision_granted = "Autorisée",
    .decision_refused = "Refusée",
    .decision_cleared = "Retour au choix par défaut",
    .decision_paused = "Tout le partage mis en pause",
    .decision_resumed = "Partage repris",
    .scope_household = "tout le domicile",
    .scope_class = "chaque « {} »",
    .receipts_older = "{} reçus plus anciens ne sont pas affichés ici ; l’export les contient.",
    .policy_version = "{}, version {}",

    .export_title = "Exporter mes données",
    .export_intro =
        "Un fichier (JSON) avec le registre de tout ce qui est sorti de chez vous et "
        "tous les reçus de consentement : vos droits d’accès et à la portabilité "
        "(RGPD, articles 15 et 20).",
    .export_button = "Télécharger mes données",

    .updates_intro =
        "La politique de l’opérateur dit ce que reçoit chaque finalité. Chaque "
        "politique proposée au boîtier est listée ici, de la plus récente à la plus "
        "ancienne.",
    .no_updates = "Aucune mise à jour de la politique n’est enregistrée.",
    .update_applied = "Appliquée.",
    .update_refused = "Refusée : la politique en vigueur est restée ({}).",
    .update_widens = "Davantage sort de chez vous depuis cette mise à jour.",
    .change_widens = "davantage sort",
    .change_before = "Avant",
    .change_after = "Après",
    .nothing = "rien",
    .change_heading = "{}, depuis {}",
    .no_changes = "Elle n’a rien changé à ce qui sort.",
    .unnamed_version = "Une politique, version {}",

    .failed_title = "Le boîtier n’a pas pu répondre",
    .failed_unavailable =
        "Le service du boîtier ne peut pas le faire maintenant. Réessayez dans "
        "un instant.",
    .failed_internal =
        "Un problème est survenu dans le boîtier. Réessayez ; si cela dure, "
        "redémarrez le boîtier.",
    .failed_invalid = "Le boîtier a refusé la demande.",
    .failed_not_found = "Le boîtier ne connaît pas ce qui a été demandé.",
    .box_said = "Le boîtier a répondu : « {} »",

    .error_400 = "La demande n’a pas été comprise.",
    .error_403 = "Ce n’est pas permis.",
    .error_404 = "Cette page n’existe pas.",
    .error_405 = "Cette page n’accepte pas ce type de demande.",
    .error_408 = "La demande a pris trop de temps.",
    .error_413 = "La demande est trop grande.",
    .error_414 = "L’adresse est trop longue.",
    .error_429 = "Trop de demandes : attendez un instant et réessayez.",
    .error_500 = "Un problème est survenu sur le boîtier.",
    .error_502 = "Le service du boîtier a donné une réponse inutilisable.",
    .error_503 =
        "Le service du boîtier est injoignable pour l’instant : réessayez dans un "
        "instant.",
    .error_421 =
        "Le boîtier ne répond pas à cette adresse. Ouvrez la page à l’adresse que montre "
        "portierctl pair.",
    .error_other = "Un problème est survenu.",
    .error_heading = "Erreur {}",

    .login_title = "Associer ce navigateur",
    .login_intro =
        "Sur le boîtier, lancez portierctl pair : un code s’affiche, valable une "
        "fois, pendant 10 minutes. Tapez-le ici.",
    .code_label = "Code d’association",
    .code_hint = "8 lettres et chiffres, comme ABCD-2345.",
    .login_button = "Associer",
    .wrong_code =
        "Ce code est faux, déjà utilisé ou expiré. Lancez portierctl pair pour en "
        "obtenir un nouveau.",
    .slow_down = "Trop d’essais : réessayez dans {} secondes.",
    .codes_voided =
        "Trop de codes faux : tous les codes sont annulés. Lancez de nouveau "
        "portierctl pair.",
    .expired = "Votre session a pris fin. Associez de nouveau ce navigateur.",
    .unavailable =
        "Le service du boîtier est injoignable pour l’instant : réessayez dans un "
        "instant.",
};

}  // namespace portier::gateway::web
