"""The sans-I/O core: every decision of a Realtime client session, with no I/O.

Nothing in this package imports Pipecat, websockets or asyncio (a test checks). The
entry point is :class:`~pipecat_realtime_openai.core.session.RealtimeSession`; what
it asks of its host is :data:`~pipecat_realtime_openai.core.actions.Action`.
"""
