"""``RealtimeSession``: every decision of a Realtime client session, in one object.

A sans-I/O core in the manner of ``h11``'s ``Connection`` and ``websockets``'
``Protocol``: typed inputs in, :mod:`~pipecat_realtime_openai.core.actions` out, no
socket, event loop or framework. A host feeds it and carries out the actions in
order; the Pipecat service is one such host, and a test is another::

    session = RealtimeSession({"type": "realtime"}, model="gpt-realtime-2.1")
    session.start()
    session.connection_opened(now=0.0)
    actions = session.server_event(parsed_session_created, now=0.0)
    # -> [Send(SessionUpdateEvent(...), span="llm_setup")]

Its inputs, one class per kind, over the state declared once in
:class:`~pipecat_realtime_openai.core.session_base.SessionBase`:

* :class:`~pipecat_realtime_openai.core.connection_inputs.ConnectionInputs`: the
  connection loop (opened, ended, rollover, closed);
* :class:`~pipecat_realtime_openai.core.server_events.ServerEventInputs`: server
  events, and the assistant audio and transcript hot paths;
* :class:`~pipecat_realtime_openai.core.user_inputs.UserInputs`: user audio (the input
  hot path), turns, interruptions, playback, images;
* :class:`~pipecat_realtime_openai.core.app_inputs.AppInputs`: settings, context,
  messages, function call outcomes, item retrievals.
"""

from __future__ import annotations

from pipecat_realtime_openai.core.app_inputs import AppInputs
from pipecat_realtime_openai.core.connection_inputs import ConnectionInputs
from pipecat_realtime_openai.core.server_events import ServerEventInputs
from pipecat_realtime_openai.core.user_inputs import UserInputs


class RealtimeSession(ConnectionInputs, ServerEventInputs, UserInputs, AppInputs):
    """One Realtime client session: typed inputs in, actions out.

    The constructor arguments are those of
    :class:`~pipecat_realtime_openai.core.session_base.SessionBase`.
    """
