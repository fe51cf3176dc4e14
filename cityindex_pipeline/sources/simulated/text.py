"""The post text: an English sentence about the city, a few hashtags, now and then some Chinese."""

from __future__ import annotations

import random
import re

from cityindex_pipeline.reference.registry import Account

SENTENCES = (
    "Autumn colours along the old city wall in {city}.",
    "Have you tried the street food in {city}? Dumplings, noodles and more.",
    "Golden hour over the riverside in {city}.",
    "A weekend in {city}: temples, tea houses and night markets.",
    "{city} welcomes travellers from around the world.",
    "Lanterns are going up all over {city} for the festival.",
    "Meet the artisans keeping the crafts of {city} alive.",
    "New high-speed rail links make {city} easier to reach than ever.",
    "Morning tai chi in a park in {city}.",
    "Where to eat in {city} tonight? Our picks.",
    "The museums of {city} stay open late this week.",
    "Spring blossoms are out in {city}.",
    "Cycling through the historic lanes of {city}.",
    "International students share their first month in {city}.",
    "Behind the scenes at a tech park in {city}.",
    "Sunrise from the hills above {city}.",
)
CHINESE_PHRASES = ("你好！", "欢迎来中国", "美食推荐", "风景如画", "一起去旅行吧")
GENERIC_TAGS = ("ChinaTravel", "TravelChina", "DiscoverChina", "ChinaCulture")


def city_name(account: Account) -> str:
    """The city as the display name spells it (`Xi'an`), else from the id (`taizhou_zj` → Taizhou)."""
    base = account.city_id.split("_")[0]
    for token in re.split(r"[\s,]+", account.display_name):
        if re.sub(r"[^a-z]", "", token.lower()) == base:
            return token
    return base.capitalize()


def post_text(rng: random.Random, account: Account) -> tuple[str, tuple[str, ...]]:
    """An English sentence about the city, 0-3 hashtags, now and then some Chinese."""
    city = city_name(account)
    tag = re.sub(r"[^A-Za-z0-9]", "", city)
    sentence = rng.choice(SENTENCES).format(city=city)
    if rng.random() < 0.1:
        chinese = re.sub(r"[^\u4e00-\u9fff]", "", account.display_name)
        sentence += " " + (chinese if chinese and rng.random() < 0.5 else rng.choice(CHINESE_PHRASES))
    candidates = (f"Visit{tag}", rng.choice(GENERIC_TAGS), f"{tag}Food", tag)
    hashtags = tuple(rng.sample(candidates, rng.choice((0, 1, 1, 2, 2, 3))))
    return sentence, hashtags
