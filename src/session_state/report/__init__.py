"""A session's context use over time as one self-contained HTML file.

Full tier. Everything comes from files the user already has: the transcript (each main-chain
response's context, compaction boundaries, subagent transcripts), the session's checkpoints
and its handoff. The page needs nothing else: no scripts, no fonts, no network (a Content
Security Policy forbids it), and the chart is an SVG drawn here, so the file can be mailed,
archived or opened years later and still show the same thing.

- `collect`: one pass of the transcript reader (transcript.py) with an observer, so the report
  applies the reader's rules (main chain, `<synthetic>`, API errors, compactions, responses
  deduplicated on (message.id, requestId)) and reads each file once; plus checkpoints, handoff.
- `chart`: the SVG of context per response over time.
- `page`: the HTML page around it: summary, breakdown, token totals, events, handoff.
"""
