"""Generated images in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph, ...), so a URL
written by one replica is served by every replica.

One object per image, `<prefix><id>`, with its content type. Expiry is the object's
LastModified plus the TTL, checked at every read (an expired image is a 404 and is deleted) and by
the sweep, which lists the prefix and deletes in batches of 1,000. A bucket lifecycle rule on the
prefix is a good second line for images no replica is left to sweep.

boto3 is synchronous; calls run in a worker thread (images are not on the chat hot path).
Credentials come from boto3's usual chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, an instance or pod role. None of them are gatewayz settings.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from gatewayz.images.store import ID_PATTERN, SweepSchedule, known_type, new_image_id
from gatewayz.settings import Settings

DELETE_BATCH = 1000


class S3ImageStore:
    def __init__(self, client: Any, bucket: str, prefix: str, ttl_hours: float) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.ttl = ttl_hours * 3600.0
        self._schedule = SweepSchedule()
        missing = getattr(client, "exceptions", None)
        self._no_such_key: type[Exception] = getattr(missing, "NoSuchKey", KeyError)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3ImageStore:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as error:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "GATEWAYZ_IMAGE_S3_BUCKET is set but boto3 is not installed: pip install 'gatewayz[s3]'"
            ) from error
        client = boto3.client(
            "s3",
            endpoint_url=settings.image_s3_endpoint_url,
            region_name=settings.image_s3_region,
            config=Config(
                s3={"addressing_style": settings.image_s3_addressing_style},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )
        assert settings.image_s3_bucket is not None
        return cls(client, settings.image_s3_bucket, settings.image_s3_prefix, settings.image_url_ttl_hours)

    def _expired(self, written: datetime) -> bool:
        return written.timestamp() + self.ttl < time.time()

    async def put(self, data: bytes, content_type: str) -> str:
        image_id = new_image_id()
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket, Key=self.prefix + image_id, Body=data, ContentType=known_type(content_type),
        )
        return image_id

    def _read(self, image_id: str) -> tuple[bytes, str] | None:
        key = self.prefix + image_id
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=key)
        except self._no_such_key:
            return None
        body = found["Body"]
        try:
            if self._expired(found["LastModified"]):
                self.client.delete_object(Bucket=self.bucket, Key=key)
                return None
            return body.read(), known_type(found.get("ContentType", ""))
        finally:
            body.close()

    async def get(self, image_id: str) -> tuple[bytes, str] | None:
        if not ID_PATTERN.match(image_id):
            return None
        return await asyncio.to_thread(self._read, image_id)

    def _sweep(self) -> int:
        removed = 0
        due: list[dict[str, str]] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                if self._expired(item["LastModified"]) and ID_PATTERN.match(item["Key"][len(self.prefix):]):
                    due.append({"Key": item["Key"]})
                if len(due) == DELETE_BATCH:
                    removed += self._delete(due)
                    due = []
        if due:
            removed += self._delete(due)
        return removed

    def _delete(self, keys: list[dict[str, str]]) -> int:
        self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
        return len(keys)

    async def sweep(self) -> int:
        return await self._schedule.run(self._sweep)
