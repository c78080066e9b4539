"""The ProxyBO method, pure: search spaces, proxies, surrogate, reliability, acquisition,
strategies and the search state.

This package imports no kfp, boto3, mlflow or kubernetes, reads no environment variables and
opens no files it was not handed (a test asserts the import rule).
"""
