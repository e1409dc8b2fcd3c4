"""Token estimates and static chunking: bounded chunks, real overlap, nothing lost, linear time."""

from __future__ import annotations

import pytest

from gateway_app.core.errors import InvalidInput
from gateway_app.services.vector import chunking
from gateway_app.services.vector.chunking import (
    Chunk,
    TooManyChunks,
    chunk_pages,
    chunking_params,
    count_tokens,
    strategy_object,
)

PROSE = [
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined several "
    "existing technologies into a system that could produce books quickly and cheaply. Before his invention, most "
    "books were copied by hand, a slow process that made them rare and expensive. Within a few decades, printing "
    "shops had spread across Europe, and millions of books were in circulation.",
    "To reset your password, open the account settings page and choose \"Security\". You will receive an email with "
    "a link that expires after 24 hours. If you don't see the message, check your spam folder or contact our support "
    "team. For security reasons, we never ask for your password over the phone.",
    "Photosynthesis is the process by which green plants, algae and some bacteria convert light energy into chemical "
    "energy. During this process, carbon dioxide and water are transformed into glucose and oxygen. The reactions "
    "take place mainly in the chloroplasts, which contain the pigment chlorophyll.",
]


def numbered_words(count: int) -> list[str]:
    """Distinct words, so each chunk's position in the text can be read off its words."""
    return [f"w{i}" for i in range(count)]


def word_ranges(chunks: list[Chunk]) -> list[list[int]]:
    return [[int(word[1:]) for word in chunk.text.split()] for chunk in chunks]


# --- count_tokens --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("paragraph", PROSE)
def test_english_prose_counts_like_openai_tokenizers(paragraph):
    # cl100k/o200k give about 1.3 tokens per English word (OpenAI: ~100 tokens for ~75 words).
    ratio = count_tokens(paragraph) / len(paragraph.split())
    assert 1.15 <= ratio <= 1.5


def test_code_counts_punctuation_and_indentation():
    code = "def add(a: int, b: int) -> int:\n    return a + b\n"
    assert 15 <= count_tokens(code) <= 26


def test_token_rules_for_words_numbers_and_cjk():
    assert count_tokens("") == 0
    assert count_tokens("cat") == 1
    assert count_tokens("the cat sat") == 3
    assert count_tokens("1234567") == 3
    assert count_tokens("東京タワー") == 5
    long_word = "x" * 400
    assert 90 <= count_tokens(long_word) <= 110


def test_counts_add_up_across_words():
    assert count_tokens("alpha beta") == count_tokens("alpha") + count_tokens("beta")


# --- chunk_pages ---------------------------------------------------------------------------------------------------

def test_chunks_are_bounded_overlap_and_keep_every_word_in_order():
    words = numbered_words(5000)
    chunks = chunk_pages([" ".join(words)], max_tokens=200, overlap=80)
    assert len(chunks) > 10
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.tokens == count_tokens(chunk.text) <= 200
    ranges = word_ranges(chunks)
    for numbers in ranges:
        assert numbers == list(range(numbers[0], numbers[-1] + 1))  # contiguous, in order, whole words
    assert ranges[0][0] == 0 and ranges[-1][-1] == 4999
    for previous, following in zip(ranges, ranges[1:], strict=False):
        shared = previous[-1] - following[0] + 1
        assert following[0] > previous[0]
        assert shared > 0
        shared_tokens = count_tokens(" ".join(f"w{i}" for i in range(following[0], previous[-1] + 1)))
        assert 60 <= shared_tokens <= 80


def test_chunks_are_filled_close_to_the_maximum():
    chunks = chunk_pages([" ".join(PROSE * 20)], max_tokens=300, overlap=0)
    assert all(chunk.tokens > 280 for chunk in chunks[:-1])
    assert " ".join(chunk.text for chunk in chunks).split() == " ".join(PROSE * 20).split()


def test_no_overlap_means_chunks_partition_the_text():
    text = " ".join(numbered_words(3000))
    chunks = chunk_pages([text], max_tokens=100, overlap=0)
    assert " ".join(chunk.text for chunk in chunks) == text


def test_a_short_text_is_one_chunk():
    assert chunk_pages(["  Hello there.\n"]) == [Chunk(text="Hello there.", page=1, index=0,
                                                        tokens=count_tokens("Hello there."))]


def test_blank_pages_give_no_chunks():
    assert chunk_pages([]) == []
    assert chunk_pages(["", "  \n\t", ""]) == []


def test_chunks_record_the_page_they_start_on():
    pages = ["", " ".join(f"a{i}" for i in range(300)), "   ", " ".join(f"b{i}" for i in range(300))]
    chunks = chunk_pages(pages, max_tokens=100, overlap=20)
    for chunk in chunks:
        first = chunk.text.split()[0]
        assert chunk.page == (2 if first.startswith("a") else 4)
    assert {chunk.page for chunk in chunks} == {2, 4}
    assert any("a299" in chunk.text and "b0" in chunk.text for chunk in chunks)  # chunks may span pages
    assert {chunk.page for chunk in chunk_pages(pages, max_tokens=100, overlap=20, paged=False)} == {None}


def test_a_word_longer_than_a_chunk_is_split_inside_the_word():
    giant = "abcdefghij" * 2000
    text = f"before {giant} after"
    chunks = chunk_pages([text], max_tokens=100, overlap=50)
    assert all(chunk.tokens == count_tokens(chunk.text) <= 100 for chunk in chunks)
    pieces = [chunk.text for chunk in chunks]
    assert pieces[0].startswith("before abcdefghij")
    assert pieces[-1].endswith("after")
    # Pieces of the giant word do not overlap, so together they are the text again.
    assert len(pieces) > 10
    assert "".join(pieces) == text


def test_long_runs_of_symbols_and_mixed_words_stay_bounded():
    texts = ["=" * 5000, "a.b," * 3000 + " tail", "x1_" * 4000, "東京" * 2000, "Ωμέγα" * 2000]
    for text in texts:
        chunks = chunk_pages([text], max_tokens=120, overlap=60)
        assert chunks
        assert all(chunk.tokens == count_tokens(chunk.text) <= 120 for chunk in chunks)


def test_newlines_and_code_stay_bounded():
    code = "def f(x):\n    if x > 10:\n        return [x, x * 2]\n    return None\n\n\n" * 400
    chunks = chunk_pages([code], max_tokens=128, overlap=32)
    assert all(chunk.tokens == count_tokens(chunk.text) <= 128 for chunk in chunks)
    assert chunks[0].text.startswith("def f(x):\n    if x > 10:")


def test_a_long_document_chunks_in_linear_time():
    # 200k words: a linear algorithm takes about a second, a quadratic one runs into the test timeout.
    words = numbered_words(200_000)
    chunks = chunk_pages([" ".join(words)])
    assert all(chunk.tokens <= 800 for chunk in chunks)
    assert chunks[-1].text.endswith("w199999")


def test_too_many_chunks_is_refused(monkeypatch):
    monkeypatch.setattr(chunking, "MAX_CHUNKS", 3)
    with pytest.raises(TooManyChunks):
        chunk_pages([" ".join(numbered_words(2000))], max_tokens=100, overlap=0)
    assert issubclass(TooManyChunks, ValueError)


def test_bad_arguments_are_programming_errors():
    with pytest.raises(ValueError):
        chunk_pages(["text"], max_tokens=100, overlap=100)


# --- chunking_strategy ---------------------------------------------------------------------------------------------

def test_auto_and_missing_strategies_use_openai_defaults():
    assert chunking_params(None) == (800, 400)
    assert chunking_params({"type": "auto"}) == (800, 400)


def test_a_static_strategy_is_accepted_within_bounds():
    strategy = {"type": "static", "static": {"max_chunk_size_tokens": 1000, "chunk_overlap_tokens": 500}}
    assert chunking_params(strategy) == (1000, 500)
    assert chunking_params({"type": "static", "static": {"max_chunk_size_tokens": 100,
                                                         "chunk_overlap_tokens": 0}}) == (100, 0)


def test_strategy_object_is_openais_shape():
    assert strategy_object(800, 400) == {"type": "static",
                                         "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}
    assert chunking_params(strategy_object(4096, 2048)) == (4096, 2048)


@pytest.mark.parametrize(("strategy", "message"), [
    ({"type": "semantic"}, "chunking_strategy.type must be 'auto' or 'static'"),
    ("auto", "chunking_strategy must be an object"),
    ({"type": "static"}, "chunking_strategy.static must be an object"),
    ({"type": "static", "static": {"chunk_overlap_tokens": 10}}, "chunking_strategy.static.max_chunk_size_tokens is"
                                                                  " required"),
    ({"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
     "max_chunk_size_tokens must be between 100 and 4096"),
    ({"type": "static", "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0}},
     "max_chunk_size_tokens must be between 100 and 4096"),
    ({"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 401}},
     "chunking_strategy.static.chunk_overlap_tokens must not exceed half of max_chunk_size_tokens (400)"),
    ({"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": -1}}, "must not be negative"),
    ({"type": "static", "static": {"max_chunk_size_tokens": "800", "chunk_overlap_tokens": 0}}, "must be an integer"),
    ({"type": "static", "static": {"max_chunk_size_tokens": True, "chunk_overlap_tokens": 0}}, "must be an integer"),
    ({"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 0, "x": 1}},
     "unknown field in chunking_strategy.static: x"),
])
def test_invalid_strategies_name_the_field(strategy, message):
    with pytest.raises(InvalidInput) as caught:
        chunking_params(strategy)
    assert message in caught.value.message
    assert caught.value.param == "chunking_strategy"
