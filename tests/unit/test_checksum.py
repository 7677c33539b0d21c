"""The two checksum schemes against the venues' documented test vectors."""

from collector.book.checksum import interleaved_crc32, kraken_crc32


def test_kraken_docs_vector() -> None:
    # Kraken docs v1 example: ten asks 0.05005..0.05050, ten bids 0.05000..0.04950
    # (0.04985 is not in the book).
    asks = [(f"0.0{5005 + 5 * i}", "0.00000500") for i in range(10)]
    bid_prices = ["5000", "4995", "4990", "4980", "4975", "4970", "4965", "4960", "4955", "4950"]
    bids = [(f"0.0{p}", "0.00000500") for p in bid_prices]
    assert kraken_crc32(bids, asks) == 974947235


def test_kraken_keeps_trailing_zeros() -> None:
    """Trailing zeros are digits Kraken hashes: normalizing them away breaks the checksum."""
    padded = kraken_crc32([("1.10", "2.00")], [("1.20", "1.00")])
    assert padded != kraken_crc32([("1.1", "2")], [("1.2", "1")])


def test_okx_docs_vectors() -> None:
    even = interleaved_crc32([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")])
    assert even == -1881014294
    uneven = interleaved_crc32([("3366.1", "7")], [("3366.8", "9"), ("3368", "8"), ("3372", "8")])
    assert uneven == 831078360


def test_interleaved_empty_book() -> None:
    assert interleaved_crc32([], []) == 0
