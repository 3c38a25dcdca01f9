"""A tiny BERT and its WordPiece tokenizer, trained and saved into a folder on the fly: offline, in a second."""

from __future__ import annotations

from pathlib import Path

WORDS = [
    "good",
    "great",
    "fine",
    "lovely",
    "superb",
    "happy",
    "bad",
    "awful",
    "poor",
    "terrible",
    "sad",
    "boring",
    "film",
    "movie",
    "plot",
    "actor",
    "story",
    "was",
    "is",
    "the",
    "a",
    "very",
    "really",
    "not",
    "quite",
    "and",
    "but",
    "it",
    "this",
    "that",
]


def make_tiny_bert(folder: Path, seed: int = 0) -> str:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer.train_from_iterator(
        [" ".join(WORDS)] * 20, trainers.WordPieceTrainer(vocab_size=200, special_tokens=specials)
    )
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = BertTokenizerFast(tokenizer_object=tokenizer)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
    )
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    BertModel(config).save_pretrained(folder)
    return str(folder)
