"""Request bodies built from the official client's models, as a user of the client writes them."""

from __future__ import annotations

from datadog_api_client.v2.model.llm_obs_dataset_batch_update_data_attributes_request import (
    LLMObsDatasetBatchUpdateDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_dataset_batch_update_data_request import LLMObsDatasetBatchUpdateDataRequest
from datadog_api_client.v2.model.llm_obs_dataset_batch_update_insert_record import (
    LLMObsDatasetBatchUpdateInsertRecord,
)
from datadog_api_client.v2.model.llm_obs_dataset_batch_update_request import LLMObsDatasetBatchUpdateRequest
from datadog_api_client.v2.model.llm_obs_dataset_batch_update_update_record import (
    LLMObsDatasetBatchUpdateUpdateRecord,
)
from datadog_api_client.v2.model.llm_obs_dataset_clone_data_attributes_request import (
    LLMObsDatasetCloneDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_dataset_clone_data_request import LLMObsDatasetCloneDataRequest
from datadog_api_client.v2.model.llm_obs_dataset_clone_request import LLMObsDatasetCloneRequest
from datadog_api_client.v2.model.llm_obs_dataset_data_attributes_request import LLMObsDatasetDataAttributesRequest
from datadog_api_client.v2.model.llm_obs_dataset_data_request import LLMObsDatasetDataRequest
from datadog_api_client.v2.model.llm_obs_dataset_record_item import LLMObsDatasetRecordItem
from datadog_api_client.v2.model.llm_obs_dataset_record_update_item import LLMObsDatasetRecordUpdateItem
from datadog_api_client.v2.model.llm_obs_dataset_records_data_attributes_request import (
    LLMObsDatasetRecordsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_dataset_records_data_request import LLMObsDatasetRecordsDataRequest
from datadog_api_client.v2.model.llm_obs_dataset_records_request import LLMObsDatasetRecordsRequest
from datadog_api_client.v2.model.llm_obs_dataset_records_update_data_attributes_request import (
    LLMObsDatasetRecordsUpdateDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_dataset_records_update_data_request import (
    LLMObsDatasetRecordsUpdateDataRequest,
)
from datadog_api_client.v2.model.llm_obs_dataset_records_update_request import LLMObsDatasetRecordsUpdateRequest
from datadog_api_client.v2.model.llm_obs_dataset_request import LLMObsDatasetRequest
from datadog_api_client.v2.model.llm_obs_dataset_restore_version_data_attributes_request import (
    LLMObsDatasetRestoreVersionDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_dataset_restore_version_data_request import (
    LLMObsDatasetRestoreVersionDataRequest,
)
from datadog_api_client.v2.model.llm_obs_dataset_restore_version_request import LLMObsDatasetRestoreVersionRequest
from datadog_api_client.v2.model.llm_obs_dataset_type import LLMObsDatasetType
from datadog_api_client.v2.model.llm_obs_dataset_update_data_attributes_request import (
    LLMObsDatasetUpdateDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_dataset_update_data_request import LLMObsDatasetUpdateDataRequest
from datadog_api_client.v2.model.llm_obs_dataset_update_request import LLMObsDatasetUpdateRequest
from datadog_api_client.v2.model.llm_obs_delete_dataset_records_data_attributes_request import (
    LLMObsDeleteDatasetRecordsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_delete_dataset_records_data_request import (
    LLMObsDeleteDatasetRecordsDataRequest,
)
from datadog_api_client.v2.model.llm_obs_delete_dataset_records_request import LLMObsDeleteDatasetRecordsRequest
from datadog_api_client.v2.model.llm_obs_delete_datasets_data_attributes_request import (
    LLMObsDeleteDatasetsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_delete_datasets_data_request import LLMObsDeleteDatasetsDataRequest
from datadog_api_client.v2.model.llm_obs_delete_datasets_request import LLMObsDeleteDatasetsRequest
from datadog_api_client.v2.model.llm_obs_record_type import LLMObsRecordType

DATASETS = LLMObsDatasetType.DATASETS
RECORDS = LLMObsRecordType.RECORDS


def dataset_create(name, description=None, metadata=None):
    attrs = LLMObsDatasetDataAttributesRequest(name=name)
    if description is not None:
        attrs.description = description
    if metadata is not None:
        attrs.metadata = metadata
    return LLMObsDatasetRequest(data=LLMObsDatasetDataRequest(type=DATASETS, attributes=attrs))


def dataset_update(**fields):
    return LLMObsDatasetUpdateRequest(
        data=LLMObsDatasetUpdateDataRequest(type=DATASETS, attributes=LLMObsDatasetUpdateDataAttributesRequest(**fields))
    )


def datasets_delete(ids):
    return LLMObsDeleteDatasetsRequest(
        data=LLMObsDeleteDatasetsDataRequest(
            type=DATASETS, attributes=LLMObsDeleteDatasetsDataAttributesRequest(dataset_ids=ids)
        )
    )


def records_create(records, deduplicate=None):
    attrs = LLMObsDatasetRecordsDataAttributesRequest(records=[LLMObsDatasetRecordItem(**r) for r in records])
    if deduplicate is not None:
        attrs.deduplicate = deduplicate
    return LLMObsDatasetRecordsRequest(data=LLMObsDatasetRecordsDataRequest(type=RECORDS, attributes=attrs))


def records_update(changes):
    return LLMObsDatasetRecordsUpdateRequest(
        data=LLMObsDatasetRecordsUpdateDataRequest(
            type=RECORDS,
            attributes=LLMObsDatasetRecordsUpdateDataAttributesRequest(
                records=[LLMObsDatasetRecordUpdateItem(**c) for c in changes]
            ),
        )
    )


def records_delete(ids):
    return LLMObsDeleteDatasetRecordsRequest(
        data=LLMObsDeleteDatasetRecordsDataRequest(
            type=RECORDS, attributes=LLMObsDeleteDatasetRecordsDataAttributesRequest(record_ids=ids)
        )
    )


def batch_update(dataset_id, insert=(), update=(), delete=(), **kw):
    return LLMObsDatasetBatchUpdateRequest(
        data=LLMObsDatasetBatchUpdateDataRequest(
            type=DATASETS,
            id=dataset_id,
            attributes=LLMObsDatasetBatchUpdateDataAttributesRequest(
                insert_records=[LLMObsDatasetBatchUpdateInsertRecord(**r) for r in insert],
                update_records=[LLMObsDatasetBatchUpdateUpdateRecord(**r) for r in update],
                delete_records=list(delete),
                **kw,
            ),
        )
    )


def restore(dataset_id, version):
    return LLMObsDatasetRestoreVersionRequest(
        data=LLMObsDatasetRestoreVersionDataRequest(
            type=DATASETS,
            id=dataset_id,
            attributes=LLMObsDatasetRestoreVersionDataAttributesRequest(dataset_version=version),
        )
    )


def clone(dataset_id, name, description=None):
    attrs = LLMObsDatasetCloneDataAttributesRequest(name=name)
    if description is not None:
        attrs.description = description
    return LLMObsDatasetCloneRequest(data=LLMObsDatasetCloneDataRequest(type=DATASETS, id=dataset_id, attributes=attrs))


def plain(value):
    """A client model value as plain Python (dicts, lists, scalars)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
