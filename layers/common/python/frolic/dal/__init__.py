"""DynamoDB, Kinesis and API Gateway adapters: the only modules that import boto3."""
