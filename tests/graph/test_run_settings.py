"""Every run records its settings on each materialization, and the messages name the new variables."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
from support.runs import materialize

from assets import all_assets
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import SETTINGS_METADATA_KEY, settings_from_env
from cityindex_pipeline.defs.schedules import monthly_schedule
from cityindex_pipeline.quality.settling import month_settled

PASSWORD = "pw-never-recorded"


def test_every_asset_records_the_settings():
    for asset in all_assets:
        assert "settings" in asset.required_resource_keys, asset.keys


def test_a_run_records_its_settings_on_each_materialization_with_secrets_redacted(tmp_path):
    environ = {
        "CITYINDEX_HOME": str(tmp_path),
        "CITYINDEX_SETTLING_DAY": "9",
        "CITYINDEX_DAGSTER_POSTGRES_URL": f"postgresql+psycopg2://dagster:{PASSWORD}@127.0.0.1:5432/dagster",
    }
    with pytest.warns(FutureWarning, match="CITYINDEX_SCHEDULE_DAY"):
        settings = settings_from_env(environ)
    selection = dg.AssetSelection.assets("account_registry", "platform_reference")
    result = materialize(settings, Month(2024, 9), selection=selection)
    assert result.success
    recorded = {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert set(recorded) == {"account_registry", "platform_reference"}
    for metadata in recorded.values():
        record = metadata[SETTINGS_METADATA_KEY].value
        assert record == settings.record()
        assert record["CITYINDEX_SCHEDULE_DAY"] == 9
        assert record["CITYINDEX_DAGSTER_POSTGRES_URL"] == "REDACTED"
        assert record["deprecated_names_used"] == {"CITYINDEX_SETTLING_DAY": "CITYINDEX_SCHEDULE_DAY"}
    assert not [event for event in result.all_events if PASSWORD in str(event)]


def test_the_messages_name_the_new_variables():
    assert "CITYINDEX_SCHEDULE_DAY sets the day" in monthly_schedule(5).description
    finding = month_settled(Month(2024, 9), datetime(2024, 10, 1, tzinfo=UTC), 5)
    assert "CITYINDEX_PUBLICATION_DELAY_DAYS sets the days" in finding.fix
