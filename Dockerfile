FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY src ./src
RUN pip install --no-cache-dir --no-deps . && useradd --system --uid 10001 app
USER app
ENV APP_ENV=production
EXPOSE 8000
CMD ["learning-analytics", "serve", "--host", "0.0.0.0", "--port", "8000"]
