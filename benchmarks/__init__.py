"""Benchmarks of the Beacon charges API: cold start, warm handler cost, DynamoDB work and end-to-end load.

Run with ``make bench`` (``python -m benchmarks``); it writes ``docs/benchmarks.md`` and its charts. Every
figure is a ratio against a floor measured in the same run, so that it survives a noisy machine. Nothing
here is a test: no time ever fails a build.
"""
