// The load of the public GraphQL gateways benchmark (graphql-hive/graphql-gateways-benchmark,
// k6.js at commit e583a1f, MIT licence, The Guild): its query, BENCH_VUS virtual users
// (default 50) posting it with no think time for DURATION_S seconds, each answer checked
// for HTTP 200 and no `"errors"`, and each user's first answer for its shape. Unlike the
// original it imports nothing from the network (the summary comes from `--summary-export`),
// checks only that `users` and `topProducts` came back in that first answer
// (loadtests/gateways/run compares the gateways' whole answers with each other before
// measuring) and refuses a non-loopback target.
//
//   C9PAY_URL=http://127.0.0.1:4001 k6 run loadtests/gateways/k6.js
import http from 'k6/http';
import { check } from 'k6';
import { Rate } from 'k6/metrics';
import { baseUrl, boundedInteger } from '../k6/settings.js';

const endpoint = `${baseUrl()}/graphql`;
const vus = boundedInteger('BENCH_VUS', 50, 1, 500);
const durationS = boundedInteger('DURATION_S', 60, 1, 600);

const successRate = new Rate('success_rate');

export const options = {
  vus,
  duration: `${durationS}s`,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

const payload = JSON.stringify({
  query: `fragment User on User {
      id
      username
      name
    }

    fragment Review on Review {
      id
      body
    }

    fragment Product on Product {
      inStock
      name
      price
      shippingEstimate
      upc
      weight
    }

    query TestQuery {
      users {
        ...User
        reviews {
          ...Review
          product {
            ...Product
            reviews {
              ...Review
              author {
                ...User
                reviews {
                  ...Review
                  product {
                    ...Product
                  }
                }
              }
            }
          }
        }
      }
      topProducts {
        ...Product
        reviews {
          ...Review
          author {
            ...User
            reviews {
              ...Review
              product {
                ...Product
              }
            }
          }
        }
      }
    }`,
});
const params = { headers: { 'Content-Type': 'application/json' } };

// Whether this virtual user has checked the answer's shape (once, as the original does:
// parsing every answer would make the load generator the bottleneck).
let shapeChecked = false;

function hasShape(response) {
  const data = response.status === 200 ? response.json('data') : null;
  return !!data && Array.isArray(data.users) && data.users.length > 0
    && Array.isArray(data.topProducts) && data.topProducts.length > 0;
}

export default function () {
  const response = http.post(endpoint, payload, params);
  const checks = {
    'response code was 200': (r) => r.status === 200,
    'no graphql errors': (r) => !!r.body && !r.body.includes('"errors"'),
  };
  if (!shapeChecked) {
    shapeChecked = true;
    checks['users and topProducts'] = hasShape;
  }
  successRate.add(check(response, checks));
}
