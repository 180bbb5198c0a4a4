"""Word pools for the synthetic school: deliberately international, with the non-ASCII names,
apostrophes and multi-word surnames that real rosters contain."""

from __future__ import annotations

import unicodedata

FIRST_NAMES: tuple[str, ...] = (
    "Anne", "James", "Chaya", "Francisco", "Kayla", "Jordan", "José", "Zoë", "Renée", "Chloé",
    "Iñigo", "Begoña", "Søren", "Łukasz", "Ngọc", "李", "王芳", "Анна", "Mohammed", "Aaliyah",
    "Olúwaseun", "Björn", "Ana María", "Nuño", "François", "Siobhán", "Dmitri", "Priya", "Hiroshi",
    "Mei", "Fatima", "Liam", "Olivia", "Noah", "Emma", "Ava", "Sophia", "Mateo", "Lucía", "Yusuf",
    "Amara", "Kwame", "Ingrid", "Zoltán", "Ximena", "Thảo", "Jae-won", "Ayşe", "Elif", "Mikael",
    "Grace", "Ethan", "Isabella", "Lucas", "Mia", "Benjamin", "Harper", "Daniel", "Camila", "Samuel",
)

LAST_NAMES: tuple[str, ...] = (
    "Malley", "Lloyd", "Meyer", "Beck", "Becker", "Day", "García", "Muñoz", "Peña", "Müller",
    "O'Brien", "van der Berg", "Nguyễn", "李", "王", "Иванова", "Smith", "Johnson", "Williams",
    "Brown", "Jones", "Davis", "Martínez", "López", "González", "Hernández", "Kowalski",
    "Søndergaard", "Öztürk", "Dubois", "Rossi", "Kim", "Park", "Tanaka", "Sato", "Okafor", "Mensah",
    "Silva", "Santos", "Andersson", "Nowak", "Costa", "Fernández", "Çelik", "Łukaszewicz",
    "D'Angelo", "St. John", "Ng", "Ó Briain", "Wilson", "Taylor", "Thomas", "Moore", "Clark",
)

# (department code, subject name) — a few subject names are non-ASCII on purpose.
SUBJECTS: tuple[tuple[str, str], ...] = (
    ("MATH", "Algebra"), ("MATH", "Calculus"), ("MATH", "Statistics"), ("BIO", "Biology"),
    ("CHEM", "Chemistry"), ("PHYS", "Physics"), ("HIST", "World History"), ("ENG", "English Literature"),
    ("FREN", "Français avancé"), ("SPAN", "Español"), ("CHIN", "中文"), ("GER", "Deutsch für Anfänger"),
    ("CS", "Computer Science"), ("ECON", "Economics"), ("ART", "Art & Design"), ("MUS", "Music Theory"),
    ("PSY", "Psychology"), ("PHIL", "Philosophy — Ethics"), ("GEO", "Geography"), ("LAT", "Latin"),
)

LEVELS: tuple[str, ...] = ("I", "II", "III", "101", "201", "Honors", "AP", "Seminar")

DESCRIPTIONS: tuple[str, ...] = (
    "Core course for the term.",
    "Weekly live sessions with discussion and quizzes.",
    "Small-group seminar; cameras on, please.",
    "Introductory course — no prerequisites.",
    "Advanced course: see the syllabus for prerequisites.",
    "Cours donné en français.",
    "Curso impartido en español.",
)

TIMEZONES: tuple[str, ...] = (
    "America/Los_Angeles", "America/New_York", "America/Chicago", "America/Denver", "Europe/London",
    "Europe/Madrid", "Asia/Shanghai", "Australia/Sydney",
)

TEMPLATE_TOPICS: tuple[str, ...] = (
    "Lab safety", "Weekly quiz pack", "Discussion prompts", "Exit tickets", "Midterm review",
    "Polls: warm-up", "Assignments: essays", "Breakout activities", "Plantilla de español", "Évaluations",
)


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters of `text` (accents stripped); '' for scripts with no ASCII form."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if "a" <= ch <= "z")
