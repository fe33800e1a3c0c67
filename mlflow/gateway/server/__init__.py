"""The AI gateway server (``mlflow gateway start``): aiohttp.web in front of providers, with every
upstream call made through ``async_core.AsyncClient``."""
