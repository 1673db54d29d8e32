namespace Bazaar.Dashboard;
