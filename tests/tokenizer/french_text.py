"""Deterministic French-like text for tokenizer tests: sentences from a
small hand-written lexicon (accents, elisions, digits, punctuation, emoji)
and the awkward whitespace and Unicode that normalizers must handle
(tabs, runs of spaces, NBSP, leading/trailing spaces, combining accents,
full-width forms and ligatures that NFKC folds)."""
import random
import unicodedata

WORDS = """
le la les un une des du de au aux et ou mais donc or ni car que qui quoi dont où
patient patiente médecin infirmière hôpital clinique traitement diagnostic symptôme
douleur fièvre toux maladie cœur poumon foie rein cerveau sang pression artérielle
examen résultat analyse biologique radiographie échographie scanner chirurgie opération
médicament posologie dose comprimé gélule injection perfusion antibiotique vaccin
étude essai clinique randomisé efficacité sécurité effet secondaire indésirable
été était être avoir eu fait faire dit dire pris prendre reçu recevoir montré
très plus moins bien mal peu beaucoup trop assez aussi encore déjà toujours jamais
grand grande petit petite nouveau nouvelle ancien ancienne premier première dernier
élevé élevée faible fort forte aigu aiguë chronique sévère léger légère modéré
enfant enfants adulte adultes âgé âgée homme femme famille mère père frère sœur
jour jours semaine mois année heure minute matin soir nuit hier demain aujourd'hui
français française Paris Lyon Marseille Toulouse Nantes Strasbourg Montpellier Bordeaux
œil yeux oreille nez bouche gorge épaule coude genou cheville pied main doigt dos
naïf naïve Noël maïs ambiguë capharnaüm Hélène Zoé Anaïs Gaël François Ève Loïc
à côté après avant pendant depuis jusqu'à chez sans avec pour par sur sous entre vers
c'est l'hôpital d'abord qu'il n'est s'il j'ai l'état d'une l'âge l'évolution jusqu'ici
évaluer améliorer diminuer augmenter surveiller prescrire administrer hospitaliser
pâte fenêtre forêt île château bâtiment hôtel goût coût août connaître naître
garçon façon reçu leçon déçu français ça aperçu commençons
""".split()

PUNCT = [".", ",", ";", ":", "!", "?", "…", "«", "»", "(", ")", "-", "–", "—", "/", "%", "'", '"', "’"]
EMOJI = ["😀", "🏥", "💊", "❤️", "👍🏽", "🇫🇷", "🧬", "✅"]
ODD = ["ﬁ", "ﬂ", "Ａ", "ｂ", "１２３", "½", "①", "²", "™", "ℌ", "Ⅻ", "ｶ", "㎏", "\u00e9", "e\u0301", "A\u030a"]
SPACES = ["  ", "   ", "\t", "\u00a0", " \u00a0 ", "\u2009", "\u3000", " \t "]


def _word(rng):
    w = rng.choice(WORDS)
    r = rng.random()
    if r < 0.08:
        w = w.capitalize()
    elif r < 0.11:
        w = w.upper()
    elif r < 0.15:
        # combining accents: NFD form of the word (NFKC recomposes)
        w = unicodedata.normalize("NFD", w)
    return w


def _number(rng):
    k = rng.random()
    if k < 0.3:
        return str(rng.randint(0, 100))
    if k < 0.5:
        return f"{rng.randint(0, 999)},{rng.randint(0, 99)}"
    if k < 0.7:
        return f"{rng.randint(1, 31):02d}/{rng.randint(1, 12):02d}/{rng.randint(1990, 2030)}"
    if k < 0.85:
        return f"{rng.randint(1, 500)} mg"
    return f"{rng.randint(0, 1000000)}"


def sentence(rng, odd=True):
    parts = []
    for _ in range(rng.randint(3, 18)):
        r = rng.random()
        if r < 0.75:
            parts.append(_word(rng))
        elif r < 0.85:
            parts.append(_number(rng))
        elif r < 0.95:
            parts.append(rng.choice(PUNCT))
        elif odd and r < 0.975:
            parts.append(rng.choice(EMOJI))
        elif odd:
            parts.append(rng.choice(ODD))
        else:
            parts.append(_word(rng))
    out = parts[0]
    for p in parts[1:]:
        out += (rng.choice(SPACES) if odd and rng.random() < 0.08 else " ") + p
    out += rng.choice([".", ".", ".", " !", " ?", "…", ""])
    if odd and rng.random() < 0.1:
        out = rng.choice(SPACES) + out
    if odd and rng.random() < 0.1:
        out = out + rng.choice(SPACES)
    return out


def lines(n, seed, odd=True):
    rng = random.Random(seed)
    return [sentence(rng, odd) for _ in range(n)]


# Strings that stress the edge cases directly.
EDGE_CASES = [
    "", " ", "   ", "\t", "\u00a0", "a", "é", "e\u0301", "\u00a0\u00a0x\u00a0\u00a0",
    "  bonjour   le   monde  ", "\tTabulation\tet\tespaces\t", "ﬁn ﬂeur ＡＢＣ ｂｃｄ １２３",
    "😀😀😀", "🇫🇷 France", "x\u200by", "\u0301", "ç'est ÇA", "Œuvre œuvre",
    "12345678901234567890", "!!!???...", "«guillemets»", "l'hôpital d'Évry",
    "\u2028\u2029", "ℌℍ", "日本語のテキスト", "Ελληνικά", "Русский текст", "한국어",
    "\ufffd", "a\u0000b", "\x01\x02", "ｶﾀｶﾅ",
]
