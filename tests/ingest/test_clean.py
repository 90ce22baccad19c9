"""Cleaning, on cases cut from the real corpus."""

from __future__ import annotations

from assistant.ingest.clean import clean, is_boilerplate, is_heading
from tests.conftest import CORPUS


def _raw(name: str) -> str:
    return next(CORPUS.glob(f"{name}_*.txt")).read_text(encoding="utf-8")


def test_hyphenation_across_line_breaks_is_undone():
    raw = "со строительством Евразийского экономиче-\nского союза [1], представляет собой план"
    assert clean(raw).text == "со строительством Евразийского экономического союза [1], представляет собой план"


def test_hyphen_of_a_real_compound_is_kept():
    raw = "научно-технических инноваций уже.\n\nСо-\nдействие и научно-\nтехнических инноваций"
    text = clean(raw).text
    assert "Содействие" in text
    assert text.count("научно-технических") == 2


def test_hard_wrapped_lines_join_into_one_paragraph():
    raw = "план стратегического сотрудничества, предложенный\nКитаем и Россией.\n\nВ 2015 году"
    assert clean(raw).text == "план стратегического сотрудничества, предложенный Китаем и Россией.\n\nВ 2015 году"


def test_site_banners_and_page_furniture_are_dropped():
    raw = _raw("001")
    text = clean(raw).text
    assert "Надоели баннеры" in raw and "Надоели баннеры" not in text
    assert "Попробуйте сервис подбора литературы" not in text
    assert "ISSN 2223-0092 (print)" not in text  # journal page header
    assert "Найти в Дзене" not in clean(_raw("003")).text
    assert is_boilerplate("163") and is_boilerplate("i Надоели баннеры? Вы всегда можете отключить рекламу.")


def test_running_header_is_dropped_but_text_stays():
    text = clean(_raw("001")).text
    assert "\nYang Liyun\n" not in text
    assert "Yang Liyun, Doctor; lecturer" in text


def test_repeated_reference_list_is_indexed_once():
    raw = _raw("001")
    item = "Kazakhstan and South Korea signed agreements for $1.7 billion"
    assert raw.count(item) == 1 and raw.count("Казахстан и Южная Корея подписали соглашения") == 1
    text = clean(raw).text
    repeated = "16. 100 Kazakhstan \"gold medal suppliers\" settled in Alibaba's e-commerce platform"
    assert raw.count(repeated) == 2
    assert text.count(repeated) == 1


def test_teaser_splicing_the_opening_paragraphs_is_dropped():
    raw = _raw("003")
    opening = "Пока мировые корпорации ведут «гонку ИИ»"
    assert raw.count(opening) == 2
    text = clean(raw).text
    assert text.count(opening) == 1
    assert "речь идёт о проектах в сферах:" in text  # the full paragraphs survive


def test_page_break_inside_a_sentence_is_joined():
    raw = "the price of food products rose by 10.7% and\n\nYang Liyun\n\nemployment pressure grew."
    text = clean(raw + "\n\nYang Liyun\n\nx.\n\nYang Liyun\n").text
    assert "rose by 10.7% and employment pressure grew." in text


def test_offsets_map_back_to_the_original():
    for path in sorted(CORPUS.glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        cleaned = clean(raw)
        for start, orig, length in cleaned.spans:
            assert raw[orig : orig + length] == cleaned.text[start : start + length]
        pos = cleaned.text.find("Казахстан")
        if pos >= 0:
            assert raw[cleaned.to_original(pos) :].startswith("Казахстан")


def test_headings():
    assert is_heading("THE PATH CHOICES")
    assert is_heading("📡 Новая ось сотрудничества: от сырья к технологиям")
    assert not is_heading("Китай и Россия должны объединить усилия для продвижения двух валют.")
