"""A no-op workflow: what a bare start costs the server and the worker (bench.enroll)."""

from temporalio import workflow


@workflow.defn(name="BareWorkflow")
class BareWorkflow:
    """Returns its argument at once."""

    @workflow.run
    async def run(self, customer_id: str) -> str:
        return customer_id
