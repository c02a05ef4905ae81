"""``kind = "feed"``: RSS, Atom, RDF and JSON Feed, parsed by `monitor.feeds`."""

from __future__ import annotations

from .. import feeds
from ..models import FeedItem, FeedSpec, Page
from . import Parsed, unique_items


class FeedAdapter:
    """The default kind: today's feed parser, unchanged."""

    kind = "feed"

    def parse(
        self, page: Page, spec: FeedSpec, *, depth: int, first_poll: bool
    ) -> Parsed:
        """Parse a feed document; see `monitor.feeds.parse_feed`."""
        parsed = feeds.parse_feed(
            page.body,
            feed_name=spec.name,
            base_url=page.final_url,
            content_type=page.content_type,
            fetched_at=page.fetched_at,
            lang_hint=spec.lang,
        )
        # monitor.feeds already normalises its text (issue #11 owns that boundary)
        return Parsed(
            title=parsed.title,
            items=parsed.items,
            warning=parsed.warning,
            skipped=parsed.skipped,
        )

    def select(self, spec: FeedSpec, items: list[FeedItem]) -> tuple[FeedItem, ...]:
        """Every item of the feed."""
        return tuple(unique_items(items))

    def needs_page(self, spec: FeedSpec, url: str) -> bool:
        """Article pages are fetched unless the feed says ``fetch_pages = false``."""
        return spec.fetch_pages
